#!/bin/sh
# The stub is copied to an address the linker never saw: it must need no
# relocation at all, and no interpreter.
set -eu
readelf=$1
stub=$2
relocs=$("$readelf" -rW "$stub")
case "$relocs" in
*"no relocations"*) ;;
*) echo "$stub has relocations:"; echo "$relocs"; exit 1 ;;
esac
if "$readelf" -lW "$stub" | grep -q INTERP; then
	echo "$stub has an interpreter"
	exit 1
fi
exit 0
