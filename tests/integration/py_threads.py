#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""py_threads: python3 running threads, through trace-ckpt.

    py_threads.py [-n TARGET] [-i INTERVAL_MS]

Four threading.Thread workers wait on a Condition for each round; in round
N every worker adds 1 to its counter and to a shared total under a Lock and
checks that its thread-local count, its counter, its native thread id and
the total agree; main waits until all four are done, checks the counters
and prints "tick N".  Two workers sleep a little after each round, so at
a dump some threads are in a condition wait, some in a sleep.  Output as
tc_test.h: READY, tick N, BAD <what>, PASS.
"""
import os
import sys
import threading
import time

NWORKERS = 4


def out(line):
    os.write(1, (line + "\n").encode())


def bad(what):
    out("BAD " + what)
    os._exit(1)


def reexec_as_script():
    # The driver finds the program by argv[0]: make it this file, not python.
    me = os.path.realpath(__file__)
    with open("/proc/self/cmdline", "rb") as f:
        argv0 = f.read().split(b"\0")[0].decode()
    if argv0 != me:
        os.execv(sys.executable if os.path.isabs(sys.executable) and
                 not sys.executable.endswith(".py") else "/usr/bin/python3",
                 [me, me] + sys.argv[1:])


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.round = 0
        self.done = [0] * NWORKERS
        self.counts = [0] * NWORKERS
        self.total = 0
        self.stop = False
        self.tids = [0] * NWORKERS


def worker(st, k, local, results):
    local.k = k
    local.count = 0
    st.tids[k] = threading.get_native_id()
    seen = 0
    while True:
        with st.cond:
            while st.round == seen and not st.stop:
                st.cond.wait()
            if st.stop:
                break
            seen = st.round
            if threading.get_native_id() != st.tids[k]:
                bad("worker %d: native id %d, was %d" %
                    (k, threading.get_native_id(), st.tids[k]))
            if local.k != k or local.count != st.counts[k] or local.count != seen - 1:
                bad("worker %d: local %d/%d, counter %d in round %d" %
                    (k, local.k, local.count, st.counts[k], seen))
            local.count += 1
            st.counts[k] += 1
            st.total += 1
            if st.total != sum(st.counts):
                bad("worker %d: total %d, counters %r" % (k, st.total, st.counts))
            st.done[k] = seen
            st.cond.notify_all()
        if k % 2:
            time.sleep(0.005)
    results[k] = local.count


def main():
    reexec_as_script()
    target, interval = 300, 20
    args = sys.argv[1:]
    while args:
        opt = args.pop(0)
        if opt in ("-n", "-i") and args:
            v = int(args.pop(0))
            if opt == "-n":
                target = v
            else:
                interval = v
        else:
            sys.stderr.write("usage: py_threads.py [-n TARGET] [-i INTERVAL_MS]\n")
            sys.exit(2)

    st = State()
    local = threading.local()
    results = [None] * NWORKERS
    threads = [threading.Thread(target=worker, args=(st, k, local, results))
               for k in range(NWORKERS)]
    for t in threads:
        t.start()
    pid = os.getpid()
    out("READY")
    for n in range(1, target + 1):
        with st.cond:
            st.round = n
            st.cond.notify_all()
            while any(d != n for d in st.done):
                st.cond.wait()
            if st.counts != [n] * NWORKERS or st.total != n * NWORKERS:
                bad("after round %d: counters %r, total %d" % (n, st.counts, st.total))
        if os.getpid() != pid:
            bad("getpid() is %d, was %d" % (os.getpid(), pid))
        alive = sum(t.is_alive() for t in threads)
        if alive != NWORKERS:
            bad("%d workers alive" % alive)
        out("tick %d" % n)
        time.sleep(interval / 1000.0)
    with st.cond:
        st.stop = True
        st.cond.notify_all()
    for t in threads:
        t.join(timeout=30)
        if t.is_alive():
            bad("a worker did not end")
    if results != [target] * NWORKERS:
        bad("workers counted %r" % results)
    out("PASS")


if __name__ == "__main__":
    main()
