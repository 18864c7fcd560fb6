#!/bin/sh
# workerd under valgrind's callgrind, for `AB_MEASURE=instructions npm run bench:ab`: it counts the
# instructions each process runs, which the machine's other load does not move. It starts with
# counting off (workerd's start-up alone would take minutes); the bench turns it on once the server answers.
exec valgrind --tool=callgrind --smc-check=all-non-file --instr-atstart=no \
  --callgrind-out-file="$AB_CALLGRIND_DIR/callgrind.%p" "$AB_WORKERD" "$@"
