/* SPDX-License-Identifier: MIT */
#pragma once

/* How a reload ended, as STATUS=, the journal, `preforkctl reload` (its
 * exit code) and the metrics (preforkd_reloads_total{result=...}) report
 * it. Every reload the master starts ends in exactly one of these. */
typedef enum ReloadOutcome {
        RELOAD_APPLIED,      /* the new configuration serves */
        RELOAD_REFUSED,      /* it never served: a config error, or its workers did not start */
        RELOAD_ROLLED_BACK,  /* it served in part and was undone (rolling reload) */
        _RELOAD_OUTCOME_MAX,
        _RELOAD_OUTCOME_INVALID = -1,
} ReloadOutcome;

/* "applied", "refused", "rolled back": as STATUS= says "reload #N ...". */
const char *reload_outcome_to_string(ReloadOutcome o);
/* "applied", "refused", "rolled_back": a metrics label value. */
const char *reload_outcome_to_label(ReloadOutcome o);
