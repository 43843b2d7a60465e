/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The key that authenticates images.  A manifest carries HMAC-SHA256
 * (libsodium) of its own bytes under this key, and holds the checksum of
 * every other file of the image, so one MAC covers the whole image.
 *
 * An image of one host is authenticated with the key of the user who made
 * it: 32 random bytes in $XDG_CONFIG_HOME/trace-ckpt/image.key (else
 * $HOME/.config/trace-ckpt/image.key), 0600, made on first use.  A
 * checkpoint of several hosts (its manifest and each host's part) uses the
 * computation's secret, which every host of it already holds.
 */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IMAGE_KEY_LEN 32
#define IMAGE_MAC_LEN 32

struct image_key {
	uint8_t bytes[IMAGE_KEY_LEN];
	char path[PATH_MAX];	/* where it came from, for messages */
};

/*
 * Where this user's key lives.  A HOME that is not a directory of ours
 * (sudo keeping the caller's) is passed over for the password database's
 * home; *note (may be NULL) then says so.
 */
int image_key_default_path(char *path, size_t len, char *note, size_t notelen);

/*
 * The key in path: a regular file (not a symbolic link) of exactly 32
 * bytes that nobody but its owner may read or write, owned by us; with
 * foreign_ok, root may use another user's key (restore --key).  err names
 * the file and what is wrong with it.
 */
int image_key_load(const char *path, bool foreign_ok, struct image_key *k, char *err,
		   size_t errlen);

/* This user's key, made (race-free) on first use. */
int image_key_user(struct image_key *k, char *err, size_t errlen);

/* For _cleanup_: the key's bytes gone from memory. */
void image_key_wipe(struct image_key *k);

/* HMAC-SHA256 of buf under k, in the context of a manifest. */
void image_mac(const struct image_key *k, const void *buf, size_t len, uint8_t mac[IMAGE_MAC_LEN]);
/* Whether mac is that of buf under k (compared in constant time). */
bool image_mac_ok(const struct image_key *k, const void *buf, size_t len,
		  const uint8_t mac[IMAGE_MAC_LEN]);
