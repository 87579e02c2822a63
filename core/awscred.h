/* awscred -- AWS credentials when the configuration names none, in the SDKs' order:
 *   1. the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN; the
 *      conf keys aws_access_key_id & co. take these as aliases, so the callers check them
 *      first and come here only when they are empty),
 *   2. the shared files: AWS_SHARED_CREDENTIALS_FILE (~/.aws/credentials, [NAME]) then
 *      AWS_CONFIG_FILE (~/.aws/config, [profile NAME] or [default]), NAME = AWS_PROFILE or
 *      "default",
 *   3. web identity: AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE (AWS_ROLE_SESSION_NAME),
 *      STS AssumeRoleWithWebIdentity at AWS_ENDPOINT_URL_STS or sts.<region>.amazonaws.com,
 *   4. ECS container credentials: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (on 169.254.170.2)
 *      or _FULL_URI, with AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE) as Authorization,
 *   5. EC2 IMDSv2 (a session token first) at AWS_EC2_METADATA_SERVICE_ENDPOINT or
 *      169.254.169.254, unless AWS_EC2_METADATA_DISABLED=true.
 * Temporary credentials are cached per process (one mutex, threads share them) and fetched
 * again before they expire: once less than a quarter of their lifetime (at most 5 minutes) is
 * left. A refresh that fails while the old ones are still valid keeps them (logged).
 * Nothing here logs or returns a secret or a token; errors name the source and the reason.
 *
 * Ownership: an awscred is a caller-owned value (fixed buffers); awscred_wipe() clears it. */
#ifndef T2_AWSCRED_H
#define T2_AWSCRED_H

#include "err.h"

#include <time.h>

typedef struct awscred {
    char access_key[256];
    char secret_key[256];
    char token[8192]; /* "" = none; session tokens run to kilobytes */
    time_t expires;   /* 0 = does not expire */
    char source[32];  /* "environment", "profile NAME"'s first 32 bytes, "web-identity", ... */
} awscred;

/* Copies the current credentials into out (resolving or refreshing them first). region
 * names the STS endpoint. 0, or -1 with err (E_INTERNAL: which sources were tried). */
int awscred_get(const char *region, awscred *out, t2err *err);
/* Forgets the cached credentials (tests, a reload). */
void awscred_reset(void);
void awscred_wipe(awscred *c);

#endif
