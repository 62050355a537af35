# Hibiki's tasks. On a fresh machine run them through ./dev, which creates .venv first:
#   ./dev up      start the whole stack on embedded defaults
#   ./dev test    run every test

set positional-arguments

# ./dev up runs `hibiki up` without just; here exec lets just's SIGTERM reach it.

# start the whole stack on one machine (NATS, SQLite, chdb and the five services)
up *args:
    exec hibiki up "$@"

# run every test: the fast layer, then the real-switch tier on HIBIKI_FS_TEST_WORKERS workers (default 1);
# arguments other than display options (-q, -v, -x, ...) go to one pytest unchanged, e.g. `./dev test -k fsapi`
test *args:
    python tools/run_tests.py "$@"

# regenerate the Python contracts from proto/
proto:
    python tools/gen_proto.py

# remake the sound directory freeswitch/sounds after a change to its texts (English needs espeak-ng)
sounds *args:
    python tools/gen_sounds.py "$@"

# start one service on embedded defaults
serve service *args:
    hibiki serve "$@"

# print a token for curl (e.g. `./dev token --user admin --tenant t1 --role admin`)
token *args:
    hibiki token "$@"

# run a benchmark and print its figures (`./dev bench list` shows them; e.g. `./dev bench directory --seconds 5`)
bench target="list" *args:
    python -m benchmarks "$@"

# IVR test mode: every branch of an IVR run as a call against the running stack (`./dev ivr-test zama main`)
ivr-test tenant ivr *args:
    python tools/ivr_test.py "$@"
