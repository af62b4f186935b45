#   Fetch Swagger UI for /docs: run `npm ci --omit=dev` in api/ when
#   api/node_modules is missing or older than api/package-lock.json. Run at
#   build time by the docs-ui target; when node_modules is current it does
#   nothing, so a rebuild needs no network.
#   Usage: cmake -DSOURCE=<api dir> -DNPM=<npm or empty> -P npm_ci.cmake
set (lock "${SOURCE}/package-lock.json")
#   npm writes this copy of the lock file into node_modules after each install
set (installed "${SOURCE}/node_modules/.package-lock.json")
set (bundle "${SOURCE}/node_modules/swagger-ui-dist/swagger-ui-bundle.js")
if (NOT EXISTS "${lock}")
    return ()
endif ()
if (EXISTS "${bundle}" AND EXISTS "${installed}"
    AND NOT "${lock}" IS_NEWER_THAN "${installed}")
    return ()
endif ()
if (NOT NPM)
    message ("npm not found: /docs will answer 503 until Swagger UI is installed."
             " Install Node.js and npm (scripts/deps.sh node) and rebuild, or run"
             " `npm ci --omit=dev` in api/ yourself.")
    return ()
endif ()
#   Two build trees (build/, build-asan/) may get here at once: one runs npm,
#   the other waits and then finds node_modules current
file (LOCK "${SOURCE}/.npm-ci.lock" GUARD PROCESS TIMEOUT 900 RESULT_VARIABLE locked)
if (EXISTS "${bundle}" AND EXISTS "${installed}"
    AND NOT "${lock}" IS_NEWER_THAN "${installed}")
    return ()
endif ()
#   Only the runtime dependency, exactly as locked, unless the API tooling
#   (dev dependencies, which npm marks "dev" in its copy of the lock file)
#   was installed before: then reinstall it too rather than remove it. No
#   install scripts: one of swagger-ui-dist's dependencies would phone home
set (omit --omit=dev)
if (EXISTS "${installed}")
    file (READ "${installed}" previous)
    string (FIND "${previous}" "\"dev\": true" dev_at)
    if (NOT dev_at EQUAL -1)
        set (omit "")
    endif ()
endif ()
message (STATUS "Fetching Swagger UI: npm ci ${omit} in ${SOURCE}")
execute_process (
    COMMAND "${NPM}" ci ${omit} --ignore-scripts --no-audit --no-fund --loglevel=error
    WORKING_DIRECTORY "${SOURCE}"
    RESULT_VARIABLE status)
if (NOT status EQUAL 0)
    message ("npm ci in ${SOURCE} failed (${status}): /docs will answer 503."
             " Check the network or the npm registry setting and rebuild.")
endif ()
