/* job_id.h - new job ids, the same for every store backend. */
#ifndef HARK_STORE_JOB_ID_H
#define HARK_STORE_JOB_ID_H

#include "store/store.h"

/* A fresh random id into id: "j" and 16 lowercase hex digits from
 * getrandom (64 bits: the backend still checks it is unused, in the
 * submitting transaction). 0, or HARK_EIO when the kernel gives no
 * randomness (id is then unspecified). */
int store_new_job_id(char id[STORE_ID_SIZE], hark_err *err);

#endif
