#!/usr/bin/env bash
# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
#
# Install ROS 2's launch stack (launch, launch_ros, ros2cli with ros2 launch /
# run / topic / node / param / service / lifecycle, rosidl_runtime_py) and the
# composition_interfaces package that launch_ros imports, from the sources in SRC (the
# project's ../shared/ros2-launch/, see its README), into a virtualenv with the ROS 2 Kilted
# wheels from PyPI. PyPI has rclpy and the message packages but not these.
#
#   scripts/install_launch_stack.sh VENV SRC
#
# SRC may be read-only: everything is built from a temporary copy. composition_interfaces is
# generated with colcon and the rosidl generators, then copied into VENV (the layout the
# wheels use), as scripts/build_tf2_msgs.sh does for tf2_msgs. The Python packages are
# installed with pip (their entry points, `ros2` and launch's plugins, come from setup.py).

set -euo pipefail

VENV="${1:?usage: install_launch_stack.sh VENV SRC}"
SRC="${2:?usage: install_launch_stack.sh VENV SRC}"
VENV="$(cd "$VENV" && pwd)"
SRC="$(cd "$SRC" && pwd)"
PY="$VENV/bin/python"
[[ -x "$VENV/bin/colcon" ]] || { echo "install_launch_stack: no colcon in $VENV/bin" >&2; exit 1; }

# Pure-Python packages, in dependency order. Not launch_testing / launch_testing_ros: their
# pytest plugins are written for pytest < 8 and break the collection of every test run in a
# venv with a newer pytest (the project's tests use launch's LaunchService instead).
PACKAGES=(rosidl_runtime_py launch launch_xml launch_yaml ros2cli launch_ros ros2launch ros2node
          ros2param ros2pkg ros2run ros2service ros2topic ros2interface ros2lifecycle)
# What they need from PyPI (the README's table).
PYPI_DEPS=(osrf-pycommon lark PyYAML argcomplete packaging psutil)

WORK="$(mktemp -d "${TMPDIR:-/tmp}/launch_stack.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

pip_quiet() {
  "$PY" -m pip install --progress-bar off -q "$@" 2>&1 \
    | sed -e '/is ignored: it is neither a file nor a directory/d' || true
}

echo "install_launch_stack: PyPI dependencies (${PYPI_DEPS[*]})"
pip_quiet "${PYPI_DEPS[@]}"

# composition_interfaces --------------------------------------------------------------------
SITE_REL="$("$PY" -c 'import os, sys, sysconfig
print(os.path.relpath(sysconfig.get_paths()["purelib"], sys.prefix))')"
if "$PY" -c 'import composition_interfaces.srv' 2>/dev/null; then
  echo "install_launch_stack: composition_interfaces already importable"
else
  echo "install_launch_stack: generating composition_interfaces (colcon, about 30 s)"
  mkdir -p "$WORK/src"
  cp -r "$SRC/composition_interfaces" "$WORK/src/"
  chmod -R u+w "$WORK/src"
  (
    cd "$WORK"
    export PATH="$VENV/bin:$PATH" AMENT_PREFIX_PATH="$VENV" CMAKE_PREFIX_PATH="$VENV"
    export COLCON_HOME="$WORK/colcon_home"
    "$VENV/bin/colcon" --log-base "$WORK/log" build \
      --build-base "$WORK/build" --install-base "$WORK/install" --merge-install \
      --event-handlers console_direct- console_cohesion+ \
      --cmake-args -DPython3_EXECUTABLE="$PY" -DBUILD_TESTING=OFF -DCMAKE_BUILD_TYPE=Release \
      > "$WORK/colcon.out" 2>&1 \
      || { tail -n 60 "$WORK/colcon.out" >&2
           echo "install_launch_stack: colcon build of composition_interfaces failed" >&2
           exit 1; }
  )
  INSTALL="$WORK/install"
  for lib in "$INSTALL"/lib/libcomposition_interfaces__*.so; do
    cp -a "$lib" "$VENV/lib/.$(basename "$lib").new"
    mv -f "$VENV/lib/.$(basename "$lib").new" "$VENV/lib/$(basename "$lib")"
  done
  rm -rf "$VENV/$SITE_REL"/composition_interfaces "$VENV/$SITE_REL"/composition_interfaces-* \
    "$VENV/include/composition_interfaces" "$VENV/share/composition_interfaces"
  cp -a "$INSTALL/$SITE_REL"/composition_interfaces* "$VENV/$SITE_REL/"
  mkdir -p "$VENV/include" "$VENV/share/ament_index/resource_index"
  cp -a "$INSTALL/include/composition_interfaces" "$VENV/include/"
  cp -a "$INSTALL/share/composition_interfaces" "$VENV/share/"
  cp -a "$INSTALL/share/ament_index/resource_index/." "$VENV/share/ament_index/resource_index/"
fi

# The Python packages ------------------------------------------------------------------------
mkdir -p "$WORK/py"
paths=()
for pkg in "${PACKAGES[@]}"; do
  [[ -f "$SRC/$pkg/setup.py" ]] || { echo "install_launch_stack: $SRC/$pkg/setup.py missing" >&2
                                      exit 1; }
  # without the build/ and *.egg-info folders a previous build may have left in SRC
  mkdir -p "$WORK/py/$pkg"
  (cd "$SRC/$pkg" && tar --exclude=./build --exclude='./*.egg-info' -cf - .) \
    | tar -xf - -C "$WORK/py/$pkg"
  chmod -R u+w "$WORK/py/$pkg"
  paths+=("$WORK/py/$pkg")
done
echo "install_launch_stack: pip install ${PACKAGES[*]}"
"$PY" -m pip install --progress-bar off -q --no-deps --no-build-isolation "${paths[@]}" 2>&1 \
  | sed -e '/is ignored: it is neither a file nor a directory/d'

# ament index entries (ros2 pkg / get_package_share_directory find them like a ROS install)
mkdir -p "$VENV/share/ament_index/resource_index/packages"
for pkg in "${PACKAGES[@]}"; do
  touch "$VENV/share/ament_index/resource_index/packages/$pkg"
done

(cd / && "$PY" -c 'import launch, launch_ros.actions, composition_interfaces.srv
import ros2cli
print("install_launch_stack: launch", launch.__file__.rsplit("/", 2)[0], "ok")')
