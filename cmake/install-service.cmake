# Run by `cmake --install` (CMakeLists.txt): the systemd unit and the
# config file, whose paths depend on the install's prefix (`--prefix`
# included), so they are written here rather than at configure time.
#   PREFIX/lib/systemd/system/hark.service  ExecStart PREFIX/bin/hark
#   SYSCONFDIR/hark/hark.conf               /etc for PREFIX /usr, else PREFIX/etc;
#                                           never over an existing file
set(prefix "${CMAKE_INSTALL_PREFIX}")
if(prefix STREQUAL "/usr")
  set(sysconf "/etc")
else()
  set(sysconf "${prefix}/etc")
endif()
set(root "$ENV{DESTDIR}")

file(READ "${HARK_SOURCE_DIR}/contrib/systemd/hark.service.in" unit)
string(REPLACE "@BINDIR@" "${prefix}/bin" unit "${unit}")
string(REPLACE "@SYSCONFDIR@" "${sysconf}" unit "${unit}")
set(unit_path "${root}${prefix}/lib/systemd/system/hark.service")
message(STATUS "Installing: ${unit_path}")
file(WRITE "${unit_path}" "${unit}")
file(CHMOD "${unit_path}" PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
list(APPEND CMAKE_INSTALL_MANIFEST_FILES "${unit_path}")

set(conf_path "${root}${sysconf}/hark/hark.conf")
if(EXISTS "${conf_path}")
  message(STATUS "Keeping: ${conf_path} (the example is in the doc directory)")
else()
  message(STATUS "Installing: ${conf_path}")
  file(READ "${HARK_SOURCE_DIR}/contrib/hark.conf.example" conf)
  file(WRITE "${conf_path}" "${conf}")
  # It may come to hold API tokens: root's alone (hark.service passes it
  # to the daemon as a credential).
  file(CHMOD "${conf_path}" PERMISSIONS OWNER_READ OWNER_WRITE)
  list(APPEND CMAKE_INSTALL_MANIFEST_FILES "${conf_path}")
endif()
