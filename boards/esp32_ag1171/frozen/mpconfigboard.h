// The esp32_ag1171 ATA: a generic ESP32 (WROOM-32, 4 MiB flash, no PSRAM) with the
// firmware's code frozen, and a ROMFS partition mounted at /rom when it holds an image.
#define MICROPY_HW_BOARD_NAME "ESP32 AG1171 ATA"
#define MICROPY_HW_MCU_NAME "ESP32"

// ROMFS: `mpremote romfs deploy build/boards/esp32_ag1171.romfs` fills the romfs
// partition; at boot it is mounted at /rom and /rom, /rom/lib join sys.path.
#define MICROPY_VFS_ROM (1)

// No Bluetooth in this firmware.
#define MICROPY_PY_BLUETOOTH (0)
