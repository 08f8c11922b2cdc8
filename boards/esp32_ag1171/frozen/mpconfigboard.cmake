# MicroPython ESP32 board definition: the esp32_ag1171 ATA with its code frozen.
# Build (docs/flash-build.md), from micropython/ports/esp32 with ESP-IDF sourced:
#   make BOARD_DIR=/path/to/ata/boards/esp32_ag1171/frozen
set(IDF_TARGET esp32)

# No Bluetooth (not used; its stack would take RAM and app space): base settings
# only, then this board's (OTA partitions, ROMFS, Wi-Fi and rollback settings).
set(SDKCONFIG_DEFAULTS
    boards/sdkconfig.base
    ${MICROPY_BOARD_DIR}/sdkconfig.board
)

# The partition table lives beside this file; sdkconfig files take no variables,
# so its absolute path goes in through a generated fragment.
file(WRITE ${CMAKE_BINARY_DIR}/sdkconfig.ata_partitions
    "CONFIG_PARTITION_TABLE_CUSTOM_FILENAME=\"${MICROPY_BOARD_DIR}/partitions-ata-4MiB.csv\"\n")
list(APPEND SDKCONFIG_DEFAULTS ${CMAKE_BINARY_DIR}/sdkconfig.ata_partitions)

if(NOT MICROPY_FROZEN_MANIFEST)
    set(MICROPY_FROZEN_MANIFEST ${MICROPY_BOARD_DIR}/manifest.py)
endif()
