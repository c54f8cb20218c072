/* version.h — the one place Braid's version is written (`braid version`,
 * the admin endpoint's /status). */
#ifndef BRD_VERSION_H
#define BRD_VERSION_H

#define BRD_VERSION "0.1.0"

#endif
