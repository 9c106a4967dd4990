#!/bin/bash
# Performs docker/Dockerfile's build and runtime steps on this Debian 12 host, without Docker, and
# smoke-tests the result. The machine that develops seawall has no Docker engine; this is how the
# image's recipe gets exercised anyway.
#
# Three modes, from fast to faithful:
#   default                 reuse the binary $SEAWALL_BIN (what CI does: seconds).
#   SEAWALL_DOCKER_FULL=1   on this host: apt-get install the build and runtime stages' packages,
#                           then cmake configure and build the seawall target with the Dockerfile's
#                           arguments into $SEAWALL_DOCKER_BUILD_DIR (default <repo>/build-docker).
#                           Root. Packages already on the host hide a missing one.
#   SEAWALL_DOCKER_CHROOT=1 interpret the Dockerfile itself: each FROM debian:12 / debian:12-slim
#                           becomes a fresh minimal Debian 12 root (debootstrap --variant=minbase,
#                           cached in $SEAWALL_DOCKER_CACHE, default /var/cache/seawall-build-steps)
#                           and its ARG, WORKDIR, COPY and RUN lines run in it with chroot, so an
#                           incomplete package list fails here as it would in `docker build`.
#                           Root, a few minutes.
# In the first two modes the package lists, cmake arguments, job count and uid come from the
# Dockerfile's ARG lines, and the configs to check from its `seawall --check-config` RUN lines and
# the COPY lines that put those files there; tests/integration/test_docker_steps.py checks that no
# RUN line installs a package or runs cmake outside those ARGs.
#
# Then, in every mode:
#   libs   the Debian packages owning the libraries `ldd seawall` lists must be exactly the
#          runtime stage's RUNTIME_PACKAGES (sanitizer runtimes of an ASan build are ignored).
#   config `seawall --check-config` on every file the image checks (chroot: the RUN line did).
#   smoke  start redis-server on a free loopback port, run seawall as the image's uid with the
#          container config (addresses moved to loopback and free ports), PING / SET / GET
#          through it, then SIGTERM: it must exit 0 within drain_timeout.
#
# usage: docker/build-steps.sh              run the steps
#        docker/build-steps.sh --print-plan print what was read from the Dockerfile, one KEY=VALUE
#                                           a line, and exit
# Environment: the variables above, and SEAWALL_DOCKERFILE (another Dockerfile to read; tests).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
dockerfile=${SEAWALL_DOCKERFILE:-$here/Dockerfile}
# Needed by the smoke test only, so not in the Dockerfile.
smoke_packages="redis-server redis-tools python3"
# Runtime libraries of -fsanitize builds; never part of the image.
sanitizer_packages_re='^lib(asan|ubsan|tsan|lsan|hwasan)[0-9]*$'

step() { printf '\n== %s\n' "$*"; }
fail() {
  printf 'build-steps: FAILED: %s\n' "$*" >&2
  exit 1
}

# The Dockerfile with continuation lines joined, one instruction per line, comments dropped.
instructions() {
  awk '/^[[:space:]]*#/ { next }
       /^[[:space:]]*$/ { if (buf == "") next }
       { if (sub(/\\[[:space:]]*$/, "")) { buf = buf $0 " "; next } print buf $0; buf = "" }' \
    "$dockerfile"
}

# stage_instructions STAGE: the instructions of the stage named STAGE (FROM ... AS STAGE).
stage_instructions() {
  instructions | awk -v stage="$1" '
    toupper($1) == "FROM" { current = (tolower($3) == "as") ? $4 : ""; next }
    current == stage { print }'
}

# dockerfile_arg STAGE NAME: the default value of `ARG NAME=...` in STAGE, quotes removed.
dockerfile_arg() {
  local value
  value=$(stage_instructions "$1" | awk -v name="$2" '
    toupper($1) == "ARG" && index($2, name "=") == 1 {
      v = substr($0, index($0, "=") + 1); gsub(/^"|"$/, "", v); print v; exit }')
  [[ -n $value ]] || fail "$dockerfile: no 'ARG $2=...' in stage $1"
  printf '%s\n' "$value"
}

# check_config_pairs: "DEST SOURCE" for each `seawall --check-config DEST` in the runtime stage,
# SOURCE being the repository file that a COPY line installs as DEST.
check_config_pairs() {
  local runtime dest src found=0
  runtime=$(stage_instructions runtime)
  while read -r dest; do
    # COPY [--flag...] SRC DEST; a --from=STAGE copy does not come from the repository.
    src=$(awk -v dest="$dest" 'toupper($1) == "COPY" && $0 !~ /--from=/ && $NF == dest {
      print $(NF - 1) }' <<<"$runtime")
    [[ -n $src ]] || fail "$dockerfile: --check-config $dest, but no COPY puts a file there"
    printf '%s %s\n' "$dest" "$src"
    found=1
  done < <(grep -o 'seawall --check-config [^ &;|]*' <<<"$runtime" | awk '{ print $3 }')
  [[ $found == 1 ]] || fail "$dockerfile: the runtime stage runs no 'seawall --check-config'"
}

build_packages=$(dockerfile_arg build BUILD_PACKAGES)
cmake_args=$(dockerfile_arg build CMAKE_ARGS)
build_jobs=$(dockerfile_arg build BUILD_JOBS)
runtime_packages=$(dockerfile_arg runtime RUNTIME_PACKAGES)
seawall_uid=$(dockerfile_arg runtime SEAWALL_UID)
config_pairs=$(check_config_pairs)

if [[ ${1:-} == --print-plan ]]; then
  printf 'BUILD_PACKAGES=%s\nCMAKE_ARGS=%s\nBUILD_JOBS=%s\n' \
    "$build_packages" "$cmake_args" "$build_jobs"
  printf 'RUNTIME_PACKAGES=%s\nSEAWALL_UID=%s\n' "$runtime_packages" "$seawall_uid"
  while read -r dest src; do printf 'CHECK_CONFIG=%s %s\n' "$dest" "$src"; done <<<"$config_pairs"
  exit 0
elif [[ $# -gt 0 ]]; then
  fail "unknown argument '$1' (usage: $0 [--print-plan])"
fi

workdir=$(mktemp -d /tmp/seawall-build-steps.XXXXXX)
mounts=()
redis_pid=
seawall_pid=
cleanup() {
  local pid mount
  for pid in $seawall_pid $redis_pid; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -KILL "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  for mount in "${mounts[@]}"; do
    umount "$mount" 2>/dev/null || umount -l "$mount" 2>/dev/null || true
  done
  rm -rf --one-file-system "$workdir"
}
trap cleanup EXIT

# in_root: the command prefix that runs a tool inside the image's root (chroot mode), or nothing.
in_root=()
# How the smoke test starts seawall: the image's ENTRYPOINT + CMD (chroot) or the binary + config.
image_root=
image_user="$seawall_uid:$seawall_uid"
image_command=()
image_healthcheck=()

# ------------------------------------------------------------------------------- chroot build
# json_words JSON: the strings of a Dockerfile exec-form array, one a line.
json_words() {
  /usr/bin/python3 -c 'import json, sys; print("\n".join(json.loads(sys.argv[1])))' "$1"
}

# expand TEXT NAME=VALUE...: ${NAME} and $NAME replaced, as Docker does for ARG in instructions.
expand() {
  local text=$1 pair name value
  shift
  for pair in "$@"; do
    name=${pair%%=*}
    value=${pair#*=}
    text=${text//\$\{$name\}/$value}
    text=${text//\$$name/$value}
  done
  printf '%s\n' "$text"
}

chroot_build() {
  [[ $(id -u) == 0 ]] || fail "SEAWALL_DOCKER_CHROOT=1 needs root (debootstrap, chroot)"
  export DEBIAN_FRONTEND=noninteractive
  if ! command -v debootstrap >/dev/null; then
    apt-get update -q
    apt-get install -y -q --no-install-recommends debootstrap
  fi
  # shellcheck disable=SC2086
  apt-get install -y -q --no-install-recommends $smoke_packages >/dev/null
  local cache=${SEAWALL_DOCKER_CACHE:-/var/cache/seawall-build-steps}
  local base=$cache/bookworm-minbase
  if [[ ! -f $base/.complete ]]; then
    step "chroot: debootstrap --variant=minbase bookworm (once, into $base)"
    rm -rf --one-file-system "$base"
    mkdir -p "$cache"
    debootstrap --variant=minbase bookworm "$base" >"$workdir/debootstrap.log" 2>&1 || {
      tail -n 30 "$workdir/debootstrap.log" >&2
      fail "debootstrap failed"
    }
    touch "$base/.complete"
  fi

  local line keyword rest name root="" wdir=/ image word chmod from src dest
  local -a args=() words=() sources=() entrypoint=() cmd=()
  local -A stage_roots=()
  while IFS= read -r line; do
    line=${line#"${line%%[![:space:]]*}"}
    keyword=${line%% *}
    keyword=${keyword^^}
    rest=${line#* }
    case $keyword in
      FROM)
        read -r image _ name <<<"$rest"
        case $image in
          debian:12 | debian:12-slim) ;;
          *) fail "chroot mode knows debian:12 and debian:12-slim only, not $image" ;;
        esac
        step "chroot: FROM $image AS $name"
        root=$workdir/rootfs-$name
        cp -a "$base/." "$root"
        rm -f "$root/.complete"
        cp /etc/resolv.conf "$root/etc/resolv.conf"
        mount -t proc proc "$root/proc"
        mounts+=("$root/proc")
        stage_roots[$name]=$root
        args=()
        wdir=/
        image_root=$root
        ;;
      ARG | ENV)
        # NAME=value or NAME="a b", one per line; an ARG without a default stays unset.
        if [[ $rest == *=* ]]; then
          word=${rest#*=}
          word=${word#\"}
          args+=("${rest%%=*}=${word%\"}")
        fi
        ;;
      WORKDIR)
        wdir=$(expand "$rest" "${args[@]}")
        mkdir -p "$root$wdir"
        ;;
      COPY)
        read -ra words <<<"$(expand "$rest" "${args[@]}")"
        chmod="" from="" sources=()
        for word in "${words[@]::${#words[@]}-1}"; do
          case $word in
            --chmod=*) chmod=${word#--chmod=} ;;
            --from=*) from=${word#--from=} ;;
            --*) fail "COPY option $word is not supported here" ;;
            *) sources+=("$word") ;;
          esac
        done
        dest=${words[-1]}
        [[ $dest == /* ]] || dest=${wdir%/}/$dest
        for src in "${sources[@]}"; do
          if [[ -n $from ]]; then
            [[ -n ${stage_roots[$from]:-} ]] || fail "COPY --from=$from: no such stage"
            src=${stage_roots[$from]}$src
          else
            src=$repo/$src
          fi
          [[ -e $src ]] || fail "COPY: $src does not exist"
          if [[ -d $src ]]; then
            mkdir -p "$root$dest"
            cp -a "$src/." "$root$dest/"
          elif [[ $dest == */ || ${#sources[@]} -gt 1 ]]; then
            mkdir -p "$root$dest"
            cp -a "$src" "$root$dest/"
          else
            mkdir -p "$(dirname "$root$dest")"
            cp -a "$src" "$root$dest"
          fi
          if [[ -n $chmod ]]; then
            chmod -R "$chmod" "$root$dest"
          fi
        done
        echo "COPY ${words[*]}"
        ;;
      RUN)
        echo "RUN $rest"
        env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
          "${args[@]}" chroot "$root" /bin/sh -c "cd '$wdir' && $rest" ||
          fail "RUN failed in stage $name: $rest"
        ;;
      USER) image_user=$(expand "$rest" "${args[@]}") ;;
      ENTRYPOINT) mapfile -t entrypoint < <(json_words "$rest") ;;
      CMD) mapfile -t cmd < <(json_words "$rest") ;;
      HEALTHCHECK) mapfile -t image_healthcheck < <(json_words "${rest#*CMD }") ;;
      EXPOSE | STOPSIGNAL | LABEL) ;;
      *) fail "chroot mode does not interpret $keyword" ;;
    esac
  done < <(instructions)
  image_command=("${entrypoint[@]}" "${cmd[@]}")
  [[ ${#image_command[@]} -gt 0 ]] || fail "the Dockerfile has no ENTRYPOINT/CMD"
  in_root=(chroot "$image_root")
  seawall_bin=$(chroot "$image_root" /bin/sh -c "command -v '${image_command[0]}'") ||
    fail "${image_command[0]} is not on the image's PATH"
}

# ---------------------------------------------------------------------------------------- build
if [[ ${SEAWALL_DOCKER_CHROOT:-0} == 1 ]]; then
  chroot_build
  echo "binary: $seawall_bin (in $image_root)"
elif [[ ${SEAWALL_DOCKER_FULL:-0} == 1 ]]; then
  step "build: apt-get install (build stage, runtime stage, smoke test)"
  [[ $(id -u) == 0 ]] || fail "SEAWALL_DOCKER_FULL=1 runs apt-get install: run as root"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  # Word splitting of the package lists is intended, as in the Dockerfile's RUN lines.
  # shellcheck disable=SC2086
  apt-get install -y -q --no-install-recommends $build_packages $runtime_packages $smoke_packages

  build_dir=${SEAWALL_DOCKER_BUILD_DIR:-$repo/build-docker}
  step "build: cmake $cmake_args (into $build_dir)"
  # A stale cache could keep options that CMAKE_ARGS does not mention; objects are kept.
  rm -f "$build_dir/CMakeCache.txt"
  # shellcheck disable=SC2086
  cmake -S "$repo" -B "$build_dir" $cmake_args
  cmake --build "$build_dir" -j"$build_jobs" --target seawall
  seawall_bin=$build_dir/seawall
else
  step "build: reusing SEAWALL_BIN (SEAWALL_DOCKER_FULL=1 or SEAWALL_DOCKER_CHROOT=1 build)"
  seawall_bin=${SEAWALL_BIN:-}
  [[ -n $seawall_bin ]] || fail "set SEAWALL_BIN to a built seawall, or SEAWALL_DOCKER_FULL=1"
fi
if [[ -z $image_root ]]; then
  [[ -x $seawall_bin ]] || fail "$seawall_bin is not an executable"
  echo "binary: $seawall_bin"
fi

# ----------------------------------------------------------------------------------------- libs
step "libs: Debian packages owning the libraries the binary loads"
# owner_package FILE: the package whose file list holds FILE, under its real or its /usr-merged
# name (dpkg records some libraries under /lib, others under /usr/lib).
owner_package() {
  local candidate owner
  for candidate in "$("${in_root[@]}" readlink -f "$1")" "$1" "${1#/usr}" "/usr$1"; do
    if owner=$("${in_root[@]}" dpkg-query -S "$candidate" 2>/dev/null); then
      printf '%s\n' "${owner%%:*}"
      return 0
    fi
  done
  return 1
}
ldd_output=$("${in_root[@]}" ldd "$seawall_bin") || fail "ldd $seawall_bin failed"
if grep -q 'not found' <<<"$ldd_output"; then
  fail "libraries not found: $(grep 'not found' <<<"$ldd_output" | tr -s ' \t\n' ' ')"
fi
needed=()
sanitized=0
while read -r lib; do
  pkg=$(owner_package "$lib") || fail "no Debian package owns $lib (from ldd $seawall_bin)"
  if [[ $pkg =~ $sanitizer_packages_re ]]; then
    echo "  $lib -> $pkg (sanitizer runtime: not for the image, ignored)"
    sanitized=1
    continue
  fi
  echo "  $lib -> $pkg"
  needed+=("$pkg")
done < <(awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' <<<"$ldd_output")
needed_sorted=$(printf '%s\n' "${needed[@]}" | sort -u)
listed_sorted=$(tr ' ' '\n' <<<"$runtime_packages" | sed '/^$/d' | sort -u)
if ((sanitized)); then
  # A sanitizer build keeps the sanitizer's allocator: the image's jemalloc is not linked.
  listed_sorted=$(grep -vx 'libjemalloc2' <<<"$listed_sorted")
fi
missing=$(comm -23 <(echo "$needed_sorted") <(echo "$listed_sorted"))
unneeded=$(comm -13 <(echo "$needed_sorted") <(echo "$listed_sorted"))
if [[ -n $missing || -n $unneeded ]]; then
  fail "RUNTIME_PACKAGES in $dockerfile differs from what the binary needs;" \
    "missing: [${missing//$'\n'/ }] not needed: [${unneeded//$'\n'/ }]"
fi
echo "RUNTIME_PACKAGES matches: $runtime_packages"

# --------------------------------------------------------------------------------------- config
if [[ -z $image_root ]]; then
  step "config: seawall --check-config, as the image build runs it"
  while read -r dest src; do
    echo "  $src (installed as $dest)"
    "$seawall_bin" --check-config "$repo/$src" || fail "--check-config $src"
  done <<<"$config_pairs"
fi

# ---------------------------------------------------------------------------------------- smoke
step "smoke: redis-server <- seawall (user $image_user) <- redis-cli, all on loopback"
for tool in redis-server redis-cli /usr/bin/python3; do
  command -v "$tool" >/dev/null || fail "$tool is missing (apt-get install $smoke_packages)"
done
show_logs() {
  echo "--- seawall log" >&2
  cat "$workdir/seawall.log" >&2 || true
  echo "--- redis log" >&2
  tail -n 20 "$workdir/redis.log" >&2 || true
}

free_ports() {
  /usr/bin/python3 - "$1" <<'EOF'
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}
read -r redis_port listen_port admin_port <<<"$(free_ports 3)"

redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
  --dir "$workdir" --logfile "$workdir/redis.log" &
redis_pid=$!
for _ in $(seq 100); do
  [[ $(redis-cli -p "$redis_port" PING 2>/dev/null) == PONG ]] && break
  sleep 0.1
done
[[ $(redis-cli -p "$redis_port" PING 2>/dev/null) == PONG ]] || {
  show_logs
  fail "redis-server did not start on 127.0.0.1:$redis_port"
}

# The container config with every address on loopback and every port free: the smoke test must
# not listen beyond this machine nor collide with other runs. In chroot mode it replaces the
# image's /etc/seawall/seawall.yaml, as a mounted config would.
container_config=$(awk '$1 == "/etc/seawall/seawall.yaml" { print $2 }' <<<"$config_pairs")
[[ -n $container_config ]] || fail "the image checks no /etc/seawall/seawall.yaml"
smoke_config=$workdir/seawall.yaml
[[ -n $image_root ]] && smoke_config=$image_root/etc/seawall/seawall.yaml
sed -e 's/0\.0\.0\.0/127.0.0.1/g' \
  -e "s/^\\([[:space:]]*port:[[:space:]]*\\)6380\\b/\\1$listen_port/" \
  -e "s/^\\([[:space:]]*port:[[:space:]]*\\)9380\\b/\\1$admin_port/" \
  -e "s/\\bredis:6379\\b/127.0.0.1:$redis_port/" \
  "$repo/$container_config" >"$workdir/seawall.yaml.new"
mv "$workdir/seawall.yaml.new" "$smoke_config"
grep -q "port: $listen_port" "$smoke_config" || fail "$container_config: no 'port: 6380'"
grep -q "127.0.0.1:$redis_port" "$smoke_config" || fail "$container_config: no redis:6379"
if grep -Eq 'address:[[:space:]]*("?::"?|"?0\.0\.0\.0"?)[[:space:]]*(#.*)?$' "$smoke_config"; then
  fail "the smoke config still listens beyond loopback"
fi
has_admin=0
grep -q '^admin:' "$smoke_config" && has_admin=1
chmod 0755 "$workdir"
chmod 0644 "$smoke_config"

if [[ -n $image_root ]]; then
  # The image's own ENTRYPOINT + CMD, as its USER.
  launch=(chroot --userspec="$image_user" "$image_root" "${image_command[@]}")
  healthcheck=(chroot --userspec="$image_user" "$image_root" "${image_healthcheck[@]}")
else
  # As in the image: the binary in a root-owned directory, run by the unprivileged uid.
  install -m 0755 "$seawall_bin" "$workdir/seawall"
  launch=("$workdir/seawall" --config "$smoke_config")
  healthcheck=("$here/healthcheck.sh")
  if [[ $(id -u) == 0 ]]; then
    launch=(setpriv --reuid="$seawall_uid" --regid="$seawall_uid" --clear-groups -- "${launch[@]}")
  else
    echo "  (not root: seawall runs as uid $(id -u), not $seawall_uid)"
  fi
fi
"${launch[@]}" >"$workdir/seawall.log" 2>&1 &
seawall_pid=$!

reply=
for _ in $(seq 100); do
  reply=$(redis-cli -p "$listen_port" PING 2>/dev/null) && [[ $reply == PONG ]] && break
  kill -0 "$seawall_pid" 2>/dev/null || break
  sleep 0.1
done
[[ $reply == PONG ]] || {
  show_logs
  fail "PING through seawall on 127.0.0.1:$listen_port answered '$reply'"
}
echo "  PING -> $reply"
value="build-steps-$$-$RANDOM"
[[ $(redis-cli -p "$listen_port" SET seawall:build-steps "$value") == OK ]] || fail "SET failed"
got=$(redis-cli -p "$listen_port" GET seawall:build-steps)
[[ $got == "$value" ]] || fail "GET through seawall returned '$got', expected '$value'"
# Read back from Redis itself: the value really went through to the upstream.
[[ $(redis-cli -p "$redis_port" GET seawall:build-steps) == "$value" ]] ||
  fail "the value written through seawall is not in redis-server"
echo "  SET/GET -> $got (and present in redis-server)"
owner_uid=$(awk '/^Uid:/ { print $2 }' "/proc/$seawall_pid/status")
echo "  seawall runs as uid $owner_uid"
if [[ $(id -u) == 0 && $owner_uid != "$seawall_uid" ]]; then
  fail "seawall runs as uid $owner_uid, expected $seawall_uid"
fi

if [[ $has_admin == 1 ]]; then
  SEAWALL_ADMIN_PORT=$admin_port "${healthcheck[@]}" || fail "the image's healthcheck failed"
else
  echo "  (the container config has no admin section: the healthcheck is not run against seawall)"
fi

# drain_timeout from the config (ms or s); the loader's default when it is not set.
drain_ms=$(awk '
  $1 == "drain_timeout:" { v = $2; if (v ~ /ms$/) { sub(/ms$/, "", v); print v }
                           else if (v ~ /s$/) { sub(/s$/, "", v); print v * 1000 } }' \
  "$smoke_config")
drain_ms=${drain_ms:-5000}
kill -TERM "$seawall_pid"
deadline=$((SECONDS + drain_ms / 1000 + 5))
while kill -0 "$seawall_pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
if kill -0 "$seawall_pid" 2>/dev/null; then
  show_logs
  fail "seawall still runs $((drain_ms / 1000 + 5)) s after SIGTERM"
fi
status=0
wait "$seawall_pid" || status=$?
seawall_pid=
[[ $status == 0 ]] || {
  show_logs
  fail "seawall exited with status $status after SIGTERM"
}
echo "  SIGTERM -> exit 0"

printf '\nbuild-steps: OK\n'
