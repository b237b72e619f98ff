#include <linux/gpio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "tributary_gpio.h"

int tributary_gpio_chip_info(int chip_fd, char label[32], uint32_t *lines) {
    struct gpiochip_info info;
    memset(&info, 0, sizeof info);
    if (ioctl(chip_fd, GPIO_GET_CHIPINFO_IOCTL, &info) != 0) return -1;
    memcpy(label, info.label, 32);
    label[31] = 0;
    *lines = info.lines;
    return 0;
}

int tributary_gpio_line_info(int chip_fd, uint32_t offset, char name[32], int *used, char consumer[32]) {
    struct gpio_v2_line_info info;
    memset(&info, 0, sizeof info);
    info.offset = offset;
    if (ioctl(chip_fd, GPIO_V2_GET_LINEINFO_IOCTL, &info) != 0) return -1;
    memcpy(name, info.name, 32);
    name[31] = 0;
    memcpy(consumer, info.consumer, 32);
    consumer[31] = 0;
    *used = (info.flags & GPIO_V2_LINE_FLAG_USED) != 0;
    return 0;
}

int tributary_gpio_request(int chip_fd, uint32_t offset, uint64_t flags, uint32_t debounce_us, const char *consumer) {
    struct gpio_v2_line_request request;
    memset(&request, 0, sizeof request);
    request.offsets[0] = offset;
    request.num_lines = 1;
    /* The most the kernel keeps (16 x 64): the source reads events in batches, and a fast pulse
       train must not overflow the buffer between two reads. */
    request.event_buffer_size = 1024;
    strncpy(request.consumer, consumer, sizeof request.consumer - 1);
    request.config.flags = flags;
    if (debounce_us) {
        request.config.num_attrs = 1;
        request.config.attrs[0].attr.id = GPIO_V2_LINE_ATTR_ID_DEBOUNCE;
        request.config.attrs[0].attr.debounce_period_us = debounce_us;
        request.config.attrs[0].mask = 1;
    }
    if (ioctl(chip_fd, GPIO_V2_GET_LINE_IOCTL, &request) != 0) return -1;
    return request.fd;
}

int tributary_gpio_value(int line_fd) {
    struct gpio_v2_line_values values = {.bits = 0, .mask = 1};
    if (ioctl(line_fd, GPIO_V2_LINE_GET_VALUES_IOCTL, &values) != 0) return -1;
    return (int)(values.bits & 1);
}

int tributary_gpio_event_size(void) { return (int)sizeof(struct gpio_v2_line_event); }

void tributary_gpio_event(const void *record, uint64_t *timestamp_ns, uint32_t *id, uint32_t *line_seqno) {
    struct gpio_v2_line_event event;
    memcpy(&event, record, sizeof event);
    *timestamp_ns = event.timestamp_ns;
    *id = event.id;
    *line_seqno = event.line_seqno;
}

void tributary_gpio_make_event(void *record, uint64_t timestamp_ns, uint32_t id, uint32_t offset, uint32_t line_seqno) {
    struct gpio_v2_line_event event;
    memset(&event, 0, sizeof event);
    event.timestamp_ns = timestamp_ns;
    event.id = id;
    event.offset = offset;
    event.seqno = line_seqno;
    event.line_seqno = line_seqno;
    memcpy(record, &event, sizeof event);
}
