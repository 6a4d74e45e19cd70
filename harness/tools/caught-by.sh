#!/usr/bin/env bash
# harness/tools/caught-by.sh [NN...] - after make test (or CH=NN
# harness/selftest.sh), record for each mutant the test that caught it, in
# harness/NN-*/mutants/caught-by.tsv (name TAB test). The next make test runs
# that test alone first and grades the mutant in full only if it passes
# (harness/selftest.sh, check_mutant): the same verdict, a fraction of the
# time. An entry that goes stale costs time, never a verdict.
# Also copies the run's record, mutants/last-full-run.tsv (the hash of what
# the verdicts depend on, harness/tools/inputs.sh), which lets CI skip the
# chapter while those inputs stay the same.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
for d in harness/[0-9][0-9]-*/; do
	c=$(basename "$d")
	nn=${c%%-*}
	[ $# -eq 0 ] || [[ " $* " == *" $nn "* ]] || continue
	got=build/selftest-$nn/caught-by.tsv
	[ -s "$got" ] || { echo "caught-by: no $got (run CH=$nn harness/selftest.sh first)" >&2; continue; }
	{
		echo "# mutant	the test that caught it (written by harness/tools/caught-by.sh)"
		sort "$got"
	} > "$d/mutants/caught-by.tsv"
	echo "caught-by: $(grep -vc '^#' "$d/mutants/caught-by.tsv") mutants of $c"
	# The run's record (selftest.sh writes it only when nothing failed and
	# nothing it read changed meanwhile): with it, CI (ONLY_CHANGED=1) grades
	# this chapter's mutants again only once one of its inputs changes.
	if [ -s "build/selftest-$nn/last-full-run.tsv" ]; then
		cp "build/selftest-$nn/last-full-run.tsv" "$d/mutants/last-full-run.tsv"
		if [ "$(harness/tools/inputs.sh --hash "$c")" = "$(grep -v '^#' "$d/mutants/last-full-run.tsv" | cut -f1)" ]; then
			echo "caught-by: the full run of $c recorded; its inputs are as it found them"
		else
			echo "caught-by: the full run of $c recorded, but its inputs changed since (CI will grade $c again)"
		fi
	else
		echo "caught-by: no record of a full run of $c (the run failed, changed its inputs as it ran, or did not grade the mutants)"
	fi
done
