# Sourced: sets FIND_LINKS_ARGS to pip's configured find-links folders that exist here.
# uv does not read pip's configuration, so the folder holding the local torch wheel is passed on.
FIND_LINKS_ARGS=()
for dir in $(pip config get global.find-links 2>/dev/null || true) ${DLEXPLAIN_FIND_LINKS:-}; do
  [ -d "$dir" ] && FIND_LINKS_ARGS+=(--find-links "$dir")
done
