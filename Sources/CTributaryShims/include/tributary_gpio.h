#ifndef TRIBUTARY_GPIO_H
#define TRIBUTARY_GPIO_H

#include <stdint.h>

/// The Linux GPIO character device's v2 uAPI (linux/gpio.h), as a few calls.

/// Line request flags (GPIO_V2_LINE_FLAG_*).
enum {
    TRIBUTARY_GPIO_ACTIVE_LOW = 1 << 1,
    TRIBUTARY_GPIO_INPUT = 1 << 2,
    TRIBUTARY_GPIO_EDGE_RISING = 1 << 4,
    TRIBUTARY_GPIO_EDGE_FALLING = 1 << 5,
    TRIBUTARY_GPIO_BIAS_PULL_UP = 1 << 8,
    TRIBUTARY_GPIO_BIAS_PULL_DOWN = 1 << 9,
    TRIBUTARY_GPIO_BIAS_DISABLED = 1 << 10,
    TRIBUTARY_GPIO_EVENT_CLOCK_REALTIME = 1 << 11,
};

/// The chip's label and number of lines. Returns 0, or -1 with errno set.
int tributary_gpio_chip_info(int chip_fd, char label[32], uint32_t *lines);

/// Line `offset`'s name, whether it is in use and by whom. Returns 0, or -1 with errno set.
int tributary_gpio_line_info(int chip_fd, uint32_t offset, char name[32], int *used, char consumer[32]);

/// Requests line `offset` with `flags` and, when not 0, a kernel debounce
/// period; returns the line's descriptor (its events are read from it), or -1 with errno set.
int tributary_gpio_request(int chip_fd, uint32_t offset, uint64_t flags, uint32_t debounce_us, const char *consumer);

/// The requested line's value now (1 active, 0 inactive), or -1 with errno set.
int tributary_gpio_value(int line_fd);

/// The size of one event record read from a line's descriptor.
int tributary_gpio_event_size(void);

/// One event record's timestamp (ns), kind (1 rising, 2 falling) and line sequence number.
void tributary_gpio_event(const void *record, uint64_t *timestamp_ns, uint32_t *id, uint32_t *line_seqno);

/// Fills `record` (tributary_gpio_event_size() bytes) with an event, for tests.
void tributary_gpio_make_event(void *record, uint64_t timestamp_ns, uint32_t id, uint32_t offset, uint32_t line_seqno);

#endif
