#!/usr/bin/env bash
# Runs pytest and passes its exit code through, except 5 ("no tests collected"), which is reported
# as a failure with a clear line: a suite that collects nothing must not look green.
"$@"
rc=$?
if [ $rc -eq 5 ]; then
  echo "error: pytest collected no tests for: ${*:2}" >&2
  exit 1
fi
exit $rc
