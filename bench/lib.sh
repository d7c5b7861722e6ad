# Shell helpers shared by the benchmark scripts (sourced).
now() { date +%s.%N; }                       # wall clock, seconds with nanoseconds
calc() { awk "BEGIN { print $1 }"; }         # floating-point arithmetic: calc "$a / $b"
# The median of the arguments (numbers).
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
