# Reads the log of `airflow dags test` and prints one line per task start and end (with its
# state), and the explanation engine's progress lines; flushes each line so it shows at once.
function task_of(line,    t) {
  match(line, /task_id=[^ ]+ map_index=-?[0-9]+/)
  t = substr(line, RSTART + 8, RLENGTH - 8)
  sub(/ map_index=-1$/, "", t)
  sub(/ map_index=/, "[", t)
  if (t ~ /\[/) t = t "]"
  return t
}
/\[DAG TEST\] starting task_id=/ {
  state = "?"
  printf "  %s  %-26s running\n", strftime("%H:%M:%S"), task_of($0); fflush()
}
/new_state=/ { match($0, /new_state=[a-z_]+/); state = substr($0, RSTART + 10, RLENGTH - 10) }
/\[DAG TEST\] end task task_id=/ {
  printf "  %s  %-26s %s\n", strftime("%H:%M:%S"), task_of($0), state; fflush()
}
/explained [0-9]+ of [0-9]+ texts/ {
  match($0, /explained [0-9]+ of [0-9]+ texts/)
  printf "  %s      %s\n", strftime("%H:%M:%S"), substr($0, RSTART, RLENGTH); fflush()
}
/TaskSetManager: Finished task .* in stage [0-9.]+ .* \([0-9]+\/[0-9]+\)/ {
  match($0, /in stage [0-9.]+/); stage = substr($0, RSTART + 9, RLENGTH - 9)
  match($0, /\([0-9]+\/[0-9]+\)/); done = substr($0, RSTART + 1, RLENGTH - 2)
  printf "  %s      spark stage %s: %s tasks done\n", strftime("%H:%M:%S"), stage, done; fflush()
}
