# Shared by the tools/ scripts: paths, the tooling venv and the collection tree.
# shellcheck shell=bash
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOL_VENV=${GLANCE_IMAGES_TOOL_VENV:-$REPO_ROOT/.venv}
# Outside the checkout: inside it, tools such as ansible-test would list files through git and
# skip the (ignored) copy.
BUILD_DIR=${GLANCE_IMAGES_BUILD_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/glance-images/build-$(printf '%s' "$REPO_ROOT" | cksum | cut -d' ' -f1)}
COLLECTIONS_ROOT=$BUILD_DIR/collections
COLLECTION_DIR=$COLLECTIONS_ROOT/ansible_collections/glance/images
export GLANCE_IMAGES_CLOUD_DIR=${GLANCE_IMAGES_CLOUD_DIR:-$REPO_ROOT/.local-cloud}

log() { printf '\n==> %s\n' "$*" >&2; }

# The venv that holds ansible-core, openstacksdk and the test tools (never the cloud's packages).
ensure_tool_venv() {
  if [ ! -x "$TOOL_VENV/bin/ansible-playbook" ] || [ ! -f "$TOOL_VENV/.requirements-done" ] \
     || ! cmp -s "$REPO_ROOT/tests/requirements.txt" "$TOOL_VENV/.requirements-done"; then
    local python
    python=$("$REPO_ROOT/tools/find-python" 11)
    log "Creating the tooling venv $TOOL_VENV with $python"
    "$python" -m venv "$TOOL_VENV"
    "$TOOL_VENV/bin/python" -m pip install --quiet --upgrade pip
    "$TOOL_VENV/bin/python" -m pip install --quiet -r "$REPO_ROOT/tests/requirements.txt"
    cp "$REPO_ROOT/tests/requirements.txt" "$TOOL_VENV/.requirements-done"
  fi
  export PATH="$TOOL_VENV/bin:$PATH"
}

# A copy of the collection at .../ansible_collections/glance/images (tracked and untracked files,
# never ignored ones), so that the checkout itself can sit anywhere.
sync_collection_tree() {
  if [ "${GLANCE_IMAGES_TREE_SYNCED:-}" = "$COLLECTION_DIR" ] && [ -d "$COLLECTION_DIR" ]; then
    export ANSIBLE_COLLECTIONS_PATH="$COLLECTIONS_ROOT"
    return 0
  fi
  rm -rf "$COLLECTION_DIR"
  mkdir -p "$COLLECTION_DIR"
  (cd "$REPO_ROOT" && git ls-files -co --exclude-standard -z | grep -zv '^build/' \
    | tar --null --files-from=- --ignore-failed-read -cf - 2>/dev/null) | tar -xf - -C "$COLLECTION_DIR"
  export ANSIBLE_COLLECTIONS_PATH="$COLLECTIONS_ROOT"
  export GLANCE_IMAGES_TREE_SYNCED="$COLLECTION_DIR"
}

cloud_up() {
  local args=()
  [ "${GLANCE_IMAGES_REGION_TWO:-0}" = 1 ] && args+=(--region-two)
  "$REPO_ROOT/tools/local-cloud" up "${args[@]}" >&2
  # shellcheck disable=SC1091
  source "$GLANCE_IMAGES_CLOUD_DIR/env.sh"
}
