#!/bin/sh
# seqstats: sequence statistics for FASTA/FASTQ files, as a Pirus job.
# POSIX sh + awk (runs on busybox ash/awk). See README.md for the runtime contract.
#
# Exit codes: 0 success; 2 no usable input or a bad parameter; 3 fail=true (on purpose);
#             4 a malformed input file; 1 anything else (an output not writable...).
set -eu

VERSION=1.0.0
CONFIG=${PIRUS_CONFIG_FILE:-/pipeline/inputs/config.json}
INPUTS=${PIRUS_INPUTS_DIR:-/pipeline/inputs}
OUTPUTS=${PIRUS_OUTPUTS_DIR:-/pipeline/outputs}
LOGS=${PIRUS_LOGS_DIR:-/pipeline/logs}
PROGRESS=${PIRUS_PROGRESS_FILE:-$LOGS/progress.jsonl}

say() { printf '%s\n' "$*"; }
warn() { printf '%s\n' "$*" >&2; }
die() { # die CODE MESSAGE
  code=$1
  shift
  printf 'seqstats: error: %s\n' "$*" >&2
  exit "$code"
}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/seqstats.XXXXXX") || die 1 "cannot create a temporary directory"
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() { rm -rf "$WORK"; }
trap cleanup EXIT
# Cancel/stop: exit at once (the shell may be PID 1 in the container, which ignores
# signals it has no handler for). Sleeps run in the background so the trap fires promptly.
trap 'warn "seqstats: terminated"; exit 143' TERM
trap 'warn "seqstats: interrupted"; exit 130' INT

# --- configuration -------------------------------------------------------------------------
# Flattens the JSON config into "path<TAB>value" lines (parameters.min_length<TAB>0,
# inputs.0.name<TAB>reads.fa, ...). A small tokenizer: any layout, strings with spaces,
# escapes and \uXXXX (BMP, as UTF-8) are handled.
flatten_json() {
  awk '
    function hexval(h,   i, v, c) {
      v = 0
      for (i = 1; i <= length(h); i++) {
        c = index("0123456789abcdef", tolower(substr(h, i, 1)))
        if (c == 0) return -1
        v = v * 16 + c - 1
      }
      return v
    }
    function utf8(cp) {
      if (cp < 128) return sprintf("%c", cp)
      if (cp < 2048) return sprintf("%c%c", 192 + int(cp / 64), 128 + cp % 64)
      return sprintf("%c%c%c", 224 + int(cp / 4096), 128 + int(cp / 64) % 64, 128 + cp % 64)
    }
    function emit(v,   p, d) {
      if (depth == 0) return
      p = key[1]
      for (d = 2; d <= depth; d++) p = p "." key[d]
      gsub(/[\t\r\n]/, " ", v)
      print p "\t" v
    }
    { buf = buf $0 "\n" }
    END {
      n = length(buf); i = 1; depth = 0
      while (i <= n) {
        c = substr(buf, i, 1)
        if (c == "{" || c == "[") {
          depth++; kind[depth] = c; key[depth] = (c == "[") ? 0 : ""; want_key[depth] = (c == "{")
          i++
        } else if (c == "}" || c == "]") {
          depth--; i++
        } else if (c == ",") {
          if (kind[depth] == "{") want_key[depth] = 1; else key[depth]++
          i++
        } else if (c == ":") {
          want_key[depth] = 0; i++
        } else if (c == "\"") {
          s = ""; i++
          while (i <= n) {
            c = substr(buf, i, 1)
            if (c == "\"") { i++; break }
            if (c == "\\") {
              e = substr(buf, i + 1, 1)
              if (e == "n") s = s "\n"
              else if (e == "t") s = s "\t"
              else if (e == "r") s = s "\r"
              else if (e == "b" || e == "f") s = s " "
              else if (e == "u") {
                cp = hexval(substr(buf, i + 2, 4))
                s = s ((cp >= 0xD800 && cp < 0xE000) || cp < 0 ? "?" : utf8(cp))
                i += 4
              } else s = s e
              i += 2
              continue
            }
            s = s c; i++
          }
          if (depth > 0 && kind[depth] == "{" && want_key[depth]) key[depth] = s
          else emit(s)
        } else if (c == " " || c == "\t" || c == "\r" || c == "\n") {
          i++
        } else {  # number, true, false, null
          j = i
          while (j <= n && index(",}] \t\r\n", substr(buf, j, 1)) == 0) j++
          emit(substr(buf, i, j - i)); i = j
        }
      }
    }' "$1"
}

FLAT="$WORK/config.tsv"
if [ -r "$CONFIG" ]; then
  flatten_json "$CONFIG" >"$FLAT" || die 2 "cannot parse $CONFIG"
else
  warn "note: no config file at $CONFIG: using the defaults"
  : >"$FLAT"
fi

# conf KEY DEFAULT: the value at KEY (e.g. parameters.min_length), or DEFAULT.
conf() {
  awk -F '\t' -v k="$1" -v d="$2" '
    $1 == k { print substr($0, length(k) + 2); found = 1; exit }
    END { if (!found) print d }' "$FLAT"
}

MIN_LENGTH=$(conf parameters.min_length 0)
TITLE=$(conf parameters.report_title "Sequence statistics")
FORMAT=$(conf parameters.format auto)
DELAY_MS=$(conf parameters.delay_ms 0)
FAIL=$(conf parameters.fail false)
JOB_ID=$(conf job.id "${PIRUS_JOB_ID:-}")
JOB_NAME=$(conf job.name "")

is_uint() { case $1 in '' | *[!0-9]*) return 1 ;; *) return 0 ;; esac; }
# JSON numbers such as 10.0 or 1e3 from a client: keep the integer part of plain decimals.
case $MIN_LENGTH in *.0 | *.00) MIN_LENGTH=${MIN_LENGTH%%.*} ;; esac
case $DELAY_MS in *.0 | *.00) DELAY_MS=${DELAY_MS%%.*} ;; esac
is_uint "$MIN_LENGTH" || die 2 "min_length must be a non-negative integer, not '$MIN_LENGTH'"
is_uint "$DELAY_MS" || die 2 "delay_ms must be a non-negative integer, not '$DELAY_MS'"
case $FORMAT in auto | fasta | fastq) ;; *) die 2 "format must be auto, fasta or fastq, not '$FORMAT'" ;; esac
case $FAIL in true | 1 | '"true"') FAIL=true ;; *) FAIL=false ;; esac

# --- helpers -------------------------------------------------------------------------------
json_string() { # a JSON string literal for $1
  printf '%s' "$1" | awk 'BEGIN { ORS = "" } {
      gsub(/\\/, "\\\\"); gsub(/"/, "\\\""); gsub(/\t/, "\\t"); gsub(/\r/, "\\r")
      print (NR > 1 ? "\\n" : "") $0 }' | { printf '"'; cat; printf '"'; }
}

progress() { # progress FRACTION LABEL
  [ -n "$PROGRESS" ] || return 0
  line=$(printf '{"progress":%s,"label":%s}' "$1" "$(json_string "$2")")
  { printf '%s\n' "$line" >>"$PROGRESS"; } 2>/dev/null ||
    { warn "note: cannot write progress to $PROGRESS"; PROGRESS=; }
}

pause_ms() { # sleeps $1 milliseconds, interruptibly
  [ "$1" -gt 0 ] || return 0
  if command -v usleep >/dev/null 2>&1 && [ "$1" -le 2000000 ]; then
    usleep "$(($1 * 1000))" &
  else
    sleep "$(awk -v ms="$1" 'BEGIN { printf "%.3f", ms / 1000 }')" &
  fi
  wait $! || true
}

# detect FILE: fasta, fastq, empty or unknown, from the first non-blank character.
detect() {
  reader "$1" | awk '
    /^[ \t\r]*$/ { next }
    { c = substr($0, 1, 1); print (c == ">" ? "fasta" : c == "@" ? "fastq" : "unknown"); found = 1; exit }
    END { if (!found) print "empty" }'
}

reader() { # the file's text, gunzipped when it is gzip-compressed
  case $1 in
    *.gz) gunzip -c "$1" ;;
    *) cat "$1" ;;
  esac
}

# stats FILE FORMAT: one line "sequences bases min max gc at filtered"; lengths histogram
# ("length count" lines) in $WORK/lengths.N. Exit status 4 with a message when malformed.
stats() {
  reader "$1" | awk -v fmt="$2" -v minlen="$MIN_LENGTH" -v hist="$3" -v name="$4" '
    function record(len, g, a) {
      if (len < minlen) { filtered++; return }
      nseq++; bases += len
      if (nseq == 1 || len < mn) mn = len
      if (len > mx) mx = len
      gc += g; at += a; hcount[len]++
    }
    function bad(msg) {
      printf "seqstats: error: %s: line %d: %s\n", name, NR, msg > "/dev/stderr"
      failed = 1; exit 4
    }
    function measure(line,   t) {
      gsub(/[ \t\r]/, "", line)
      t = line; cur_g += gsub(/[GCgc]/, "", t); cur_a += gsub(/[ATat]/, "", t)
      return length(line)
    }
    BEGIN { nseq = 0; bases = 0; mn = 0; mx = 0; gc = 0; at = 0; filtered = 0; pos = 0 }
    fmt == "fasta" {
      if (substr($0, 1, 1) == ">") {
        if (open) record(cur_len, cur_g, cur_a)
        open = 1; cur_len = 0; cur_g = 0; cur_a = 0
        next
      }
      if ($0 ~ /^[ \t\r]*$/) next
      if (!open) bad("sequence data before the first > header")
      cur_len += measure($0)
      next
    }
    fmt == "fastq" {
      if (pos == 0) {
        if ($0 ~ /^[ \t\r]*$/) next
        if (substr($0, 1, 1) != "@") bad("expected a @ header line")
        pos = 1; next
      }
      if (pos == 1) { cur_g = 0; cur_a = 0; cur_len = measure($0); pos = 2; next }
      if (pos == 2) {
        if (substr($0, 1, 1) != "+") bad("expected a + separator line")
        pos = 3; next
      }
      q = $0; gsub(/[ \t\r]/, "", q)
      if (length(q) != cur_len) bad("quality length " length(q) " differs from sequence length " cur_len)
      record(cur_len, cur_g, cur_a); pos = 0
    }
    END {
      if (failed) exit 4
      if (fmt == "fasta" && open) record(cur_len, cur_g, cur_a)
      if (fmt == "fastq" && pos != 0) bad("truncated record at the end of the file")
      for (l in hcount) print l, hcount[l] > hist
      close(hist)
      printf "%.0f %.0f %.0f %.0f %.0f %.0f %.0f\n", nseq, bases, mn, mx, gc, at, filtered
    }'
}

# n50 HISTFILE TOTAL: the N50 of the lengths in a histogram file.
n50() {
  sort -k1,1nr "$1" | awk -v total="$2" '
    { cum += $1 * $2; if (cum * 2 >= total) { print $1; found = 1; exit } }
    END { if (!found) print 0 }'
}

# --- run -----------------------------------------------------------------------------------
files="$WORK/files"
: >"$files"
for f in "$INPUTS"/*; do
  [ -f "$f" ] || continue
  name=${f##*/}
  [ "$name" = config.json ] && continue
  printf '%s\n' "$name" >>"$files"
done
nfiles=$(awk 'END { print NR }' "$files")

say "seqstats $VERSION: $nfiles input file$([ "$nfiles" -eq 1 ] || echo s)${JOB_ID:+ (job $JOB_ID)}"
say "parameters: min_length=$MIN_LENGTH format=$FORMAT delay_ms=$DELAY_MS fail=$FAIL report_title=\"$TITLE\""
warn "note: min_length=$MIN_LENGTH, format=$FORMAT"

if [ "$FAIL" = true ]; then
  warn "seqstats: failing on purpose (fail=true)"
  exit 3
fi
[ "$nfiles" -gt 0 ] || die 2 "no input files in $INPUTS"

mkdir -p "$OUTPUTS/per_file" || die 1 "cannot write to $OUTPUTS"
TSV="$WORK/stats.tsv"
printf 'file\tformat\tsequences\tbases\tmin_len\tmax_len\tmean_len\tn50\tgc_percent\tfiltered\n' >"$TSV"
: >"$WORK/all.hist"
progress 0 "starting"

i=0
used=0
tot_seq=0
tot_bases=0
tot_gc=0
tot_at=0
tot_filtered=0
while IFS= read -r name; do
  i=$((i + 1))
  path="$INPUTS/$name"
  pause_ms "$DELAY_MS"
  fmt=$FORMAT
  detected=$(detect "$path")
  if [ "$fmt" = auto ]; then
    fmt=$detected
  elif [ "$detected" != "$fmt" ] && [ "$detected" != empty ]; then
    warn "warning: $name does not look like $fmt ($detected); reading it as $fmt anyway"
  fi
  case $fmt in
    fasta | fastq)
      hist="$WORK/lengths.$i"
      set +e
      line=$(stats "$path" "$fmt" "$hist" "$name")
      rc=$?
      set -e
      [ "$rc" -eq 0 ] || die 4 "$name is not valid $fmt"
      # shellcheck disable=SC2086
      set -- $line
      nseq=$1 bases=$2 mn=$3 mx=$4 gc=$5 at=$6 filtered=$7
      n50v=$(n50 "$hist" "$bases")
      cat "$hist" >>"$WORK/all.hist"
      row=$(awk -v f="$name" -v fmt="$fmt" -v n="$nseq" -v b="$bases" -v mn="$mn" -v mx="$mx" \
        -v n50="$n50v" -v gc="$gc" -v at="$at" -v flt="$filtered" 'BEGIN {
          mean = n > 0 ? b / n : 0; gcp = (gc + at) > 0 ? 100 * gc / (gc + at) : 0
          printf "%s\t%s\t%.0f\t%.0f\t%.0f\t%.0f\t%.2f\t%.0f\t%.2f\t%.0f\n", f, fmt, n, b, mn, mx, mean, n50, gcp, flt }')
      printf '%s\n' "$row" >>"$TSV"
      printf '%s\n' "$row" | awk -F '\t' -v title="$TITLE" '{
          printf "%s: %s\n\n", title, $1
          printf "format            %s\n", $2
          printf "sequences         %s\n", $3
          printf "bases             %s\n", $4
          printf "min length        %s\n", $5
          printf "max length        %s\n", $6
          printf "mean length       %s\n", $7
          printf "N50               %s\n", $8
          printf "GC %% (of ACGT)    %s\n", $9
          printf "filtered (short)  %s\n", $10 }' >"$OUTPUTS/per_file/$name.txt"
      say "$name: $fmt, $nseq sequences, $bases bases, N50 $n50v"
      [ "$filtered" -eq 0 ] || warn "note: $name: $filtered sequences shorter than $MIN_LENGTH ignored"
      used=$((used + 1))
      tot_seq=$((tot_seq + nseq))
      tot_bases=$((tot_bases + bases))
      tot_gc=$((tot_gc + gc))
      tot_at=$((tot_at + at))
      tot_filtered=$((tot_filtered + filtered))
      ;;
    empty) warn "warning: $name is empty: skipped" ;;
    *) warn "warning: $name is neither FASTA nor FASTQ: skipped" ;;
  esac
  progress "$(awk -v i="$i" -v n="$nfiles" 'BEGIN { printf "%.4g", i / n }')" "$name"
done <"$files"

[ "$used" -gt 0 ] || die 2 "none of the $nfiles input files is FASTA or FASTQ"

cp "$TSV" "$OUTPUTS/stats.tsv"
all_n50=$(n50 "$WORK/all.hist" "$tot_bases")
{
  say "$TITLE"
  say "$TITLE" | sed 's/./=/g'
  say ""
  say "seqstats $VERSION${JOB_ID:+, job $JOB_ID}${JOB_NAME:+ ($JOB_NAME)}, $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  say "parameters: min_length=$MIN_LENGTH, format=$FORMAT"
  say ""
  awk -F '\t' '
    { for (c = 1; c <= NF; c++) { cell[NR, c] = $c; if (length($c) > w[c]) w[c] = length($c) } }
    END {
      for (r = 1; r <= NR; r++) {
        line = ""
        for (c = 1; c <= 10; c++) line = line sprintf(c == 1 ? "%-" w[c] "s" : c == 2 ? "  %-" w[c] "s" : "  %" w[c] "s", cell[r, c])
        print line
      }
    }' "$TSV"
  say ""
  awk -v files="$used" -v n="$tot_seq" -v b="$tot_bases" -v n50="$all_n50" -v gc="$tot_gc" \
    -v at="$tot_at" -v flt="$tot_filtered" 'BEGIN {
      printf "all files: %d files, %.0f sequences, %.0f bases, mean length %.2f, N50 %.0f, GC %.2f%%", \
        files, n, b, (n > 0 ? b / n : 0), n50, ((gc + at) > 0 ? 100 * gc / (gc + at) : 0)
      if (flt > 0) printf ", %.0f sequences shorter than the minimum ignored", flt
      printf "\n" }'
} >"$OUTPUTS/report.txt"

progress 1 "done"
say "seqstats: wrote report.txt, stats.tsv and per_file/ ($used of $nfiles files)"
exit 0
