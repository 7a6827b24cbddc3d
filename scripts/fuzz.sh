#!/usr/bin/env bash
# Runs each cargo-fuzz target in fuzz/ for MINUTES minutes (default 1), one
# after the other, and exits non-zero if any of them crashed (a panic, an
# invariant violation, a sanitizer report, a timeout or an OOM).
#
#   scripts/fuzz.sh [MINUTES] [TARGET...]
#
# Needs `cargo install cargo-fuzz`. Works on the stable toolchain:
# RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass `-Zsanitizer=address`. Set
# FUZZ_SANITIZER=none to build without AddressSanitizer (faster; no -Z
# flags). The Rust code has no `unsafe` on these paths, so ASan mostly
# guards against surprises; the invariants are assertions in
# fuzz/check.rs. Debug assertions and overflow checks are on (-a).
#
# New corpus entries go to fuzz/work/<target>/ (not committed); the seeds in
# fuzz/corpus/<target>/ are only read. Crashes land in
# fuzz/artifacts/<target>/; reproduce one with
#   RUSTC_BOOTSTRAP=1 cargo fuzz run -O -a <target> <file>   (in fuzz/)
# or turn it into a unit test.
set -u

cd "$(dirname "$0")/../fuzz" || exit 2

minutes=${1:-1}
shift || true
case $minutes in
  '' | *[!0-9]* | 0)
    echo "fuzz.sh: MINUTES must be a positive integer" >&2
    exit 2
    ;;
esac
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(receiver handshake headers utf8)
fi
sanitizer=${FUZZ_SANITIZER:-address}

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz.sh: cargo-fuzz is missing: cargo install cargo-fuzz" >&2
  exit 2
fi

export RUSTC_BOOTSTRAP=1
# Cargo caches rustc probe results, failures included, without keying them
# on RUSTC_BOOTSTRAP: a build once tried without it keeps failing with
# "the option `Z` is only accepted on the nightly compiler" until the cache
# goes.
rm -f target/.rustc_info.json

flags=(-O -a --sanitizer "$sanitizer")
for t in "${targets[@]}"; do
  if ! cargo fuzz build "${flags[@]}" "$t"; then
    echo "fuzz.sh: building $t failed" >&2
    exit 2
  fi
done

max_len() {
  case $1 in
    receiver) echo 8192 ;;
    headers) echo 16384 ;; # long hostile headers: quadratic behaviour shows
    *) echo 4096 ;;
  esac
}

mkdir -p work/logs
failed=()
for t in "${targets[@]}"; do
  mkdir -p "work/$t" "corpus/$t"
  log="work/logs/$t.log"
  echo "== $t: ${minutes} min (log: fuzz/$log)"
  cargo fuzz run "${flags[@]}" "$t" "work/$t" "corpus/$t" -- \
    -max_total_time=$((minutes * 60)) \
    -max_len="$(max_len "$t")" \
    -timeout=10 \
    -rss_limit_mb=2048 \
    -print_final_stats=1 >"$log" 2>&1
  rc=$?
  runs=$(grep -m1 'stat::number_of_executed_units' "$log" | awk '{print $2}')
  rate=$(grep -m1 'stat::average_exec_per_sec' "$log" | awk '{print $2}')
  cov=$(grep -E '^#[0-9]+' "$log" | tail -n 1 | grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[^ ]+')
  echo "   runs: ${runs:-?}, exec/s: ${rate:-?}, ${cov:-}"
  if [ $rc -ne 0 ]; then
    echo "   FAILED (exit $rc), from the log:"
    grep -E -A3 'panicked at' "$log" | head -n 8 | cut -c1-300 | sed 's/^/   /'
    grep -E 'ERROR: libFuzzer|ERROR: AddressSanitizer|Test unit written' "$log" | head -n 4 | sed 's/^/   /'
    failed+=("$t")
  fi
done

if [ ${#failed[@]} -ne 0 ]; then
  echo "fuzz.sh: crashes in: ${failed[*]} (see fuzz/artifacts/)" >&2
  exit 1
fi
echo "fuzz.sh: no crashes"
