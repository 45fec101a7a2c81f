#!/usr/bin/env bash
# Which Pulumi layers a set of changed paths redeploys (deploy.yml; tests/infra/test_workflows.py).
# Reads one repository path per line on stdin; prints `whole` (the whole stack), or the
# sorted layers (batch ingest serving speed) separated by spaces, or nothing.
#
# A layer is chosen when it bundles or provisions from the path:
#   services/<svc>/        the function bundle of that layer (its folder is zipped whole)
#   services/worker/       nothing here: only the flex templates (templates.yml)
#   sql/serving           the serving views;    salesphere/sql/batch: the batch function's
#                          refills;  salesphere/sql/metrics: rendered into both
#   salesphere/sql/tables  the layer that creates that dataset's tables (speed: speed;
#                          master, batch, ops: batch; reference: serving) and serving,
#                          whose views read them
#   anything else in salesphere/, infra/, Pulumi*.yaml, requirements.lock: every function
#                          bundles the library and every layer is built by the program
set -euo pipefail

layers=()
whole=false
while IFS= read -r path; do
  case "$path" in
    "") ;;
    services/ingest/*) layers+=(ingest) ;;
    services/stream/*) layers+=(speed) ;;
    services/batch/*) layers+=(batch) ;;
    services/worker/*) ;;
    sql/*) layers+=(serving) ;;
    salesphere/sql/batch/*) layers+=(batch) ;;
    salesphere/sql/metrics/*) layers+=(batch serving) ;;
    salesphere/sql/tables/speed.*) layers+=(speed serving) ;;
    salesphere/sql/tables/master.*|salesphere/sql/tables/batch.*|salesphere/sql/tables/ops.*) layers+=(batch serving) ;;
    salesphere/sql/tables/reference.*) layers+=(serving) ;;
    salesphere/*|infra/*|Pulumi*.yaml|requirements.lock) whole=true ;;
  esac
done

if [ "$whole" = true ]; then
  echo whole
elif [ "${#layers[@]}" -gt 0 ]; then
  printf '%s\n' "${layers[@]}" | sort -u | xargs
fi
