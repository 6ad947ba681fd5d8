/*
 * services_load.h — the configuration's `services` paths: ECS services
 * defined in files, created when the daemon starts (deploy/CONFIG.md).
 *
 * What a path means is common/dirwalk.h's (a file, or every *.json below a
 * directory). Each file is one CreateService request in ECS's JSON (what
 * `aws ecs create-service --cli-input-json` takes): serviceName,
 * taskDefinition, desiredCount, and optionally launchType,
 * deploymentConfiguration (minimumHealthyPercent, maximumPercent,
 * deploymentCircuitBreaker), healthCheckGracePeriodSeconds and cluster
 * (this one's name or ARN). Unlike the API, which ignores members it does
 * not know as AWS does, a file's member names are checked: a misspelt one
 * is "unknown field", and an ECS member tripline does not implement
 * (loadBalancers, networkConfiguration, …) is "not supported by tripline".
 *
 * At each start, once the orchestrator has loaded its state:
 *   - a service that does not exist (or exists only as INACTIVE, deleted)
 *     is created as the file says;
 *   - an ACTIVE service is brought to the file's task definition,
 *     deployment configuration and grace period, as UpdateService would
 *     (what the file leaves out stays as it is); a file naming a family
 *     follows the family's latest ACTIVE revision, so a changed
 *     task_definitions file rolls the service out at the next start. Its
 *     desired count is NOT reset: a rule or a person may have rescaled it
 *     since, and a restart must not undo that (the file's desiredCount is
 *     the count the service is created with; UpdateService changes it).
 *     When nothing differs the service is left alone ("is current");
 *   - launchType cannot change (nor can UpdateService's): a file asking for
 *     another one than the service has is an error;
 *   - a service being deleted (DRAINING) is left alone, with a warning: the
 *     file creates it again at a start after it has become INACTIVE;
 *   - a service whose file is gone is left as it is (DeleteService removes it).
 *
 * Every file is read and checked before any service is touched: with a
 * malformed file nothing is applied. Then each file is applied on its own,
 * so that every problem is reported at once. Messages name the file:
 * "<file>: <message>", "<file>: /pointer: <message>". Logs one line per
 * service (created, updated, is current) with the component "services".
 */
#ifndef TRIPLINE_ENGINE_SERVICES_LOAD_H
#define TRIPLINE_ENGINE_SERVICES_LOAD_H

#include "config.h"
#include "errlist.h"

struct orch;

/* Largest service definition file. */
#define SERVICES_FILE_MAX ((size_t)64 << 10)

/*
 * Creates or updates the services of cfg->services on o (see above). 0; or
 * -EINVAL (a file is malformed, or the orchestrator refused one: a
 * ClientException, an unknown task definition), -EIO (a service could not
 * be stored in data_dir) or -ENOMEM, with every message in errs.
 */
int services_load_paths(const struct tripline_config *cfg, struct orch *o, struct errlist *errs);

#endif
