#!/bin/sh
# Interleaves pinning configurations; each run measures both transports alternately (ABBA chunks).
cd "$(dirname "$0")"
: > results.csv
for r in 1 2 3; do
  ./rpcbench bench --server-cpu 0 --client-cpu 1 --tag "diffcpu-r$r" 2>>run.log | grep '^RESULT' >> results.csv
  ./rpcbench bench --server-cpu 0 --client-cpu 0 --yield --tag "samecpu-r$r" 2>>run.log | grep '^RESULT' >> results.csv
done
