/* The version of this build ("git describe", or the VERSION file of a release tarball),
 * written by the Makefile into the generated version.c. */
#ifndef PGOLUA_VERSION_H
#define PGOLUA_VERSION_H

extern const char pgolua_version[];

#endif
