#   Copy Swagger UI (from api/node_modules, installed by `npm ci` in api/)
#   and our index page into DEST. Without node_modules, /docs answers 503
#   with a problem document saying how to build it.
set (dist "${SOURCE}/node_modules/swagger-ui-dist")
if (EXISTS "${dist}/swagger-ui-bundle.js" AND EXISTS "${SOURCE}/docs/index.html")
    file (MAKE_DIRECTORY "${DEST}")
    foreach (name swagger-ui-bundle.js swagger-ui-standalone-preset.js
                  swagger-ui.css favicon-32x32.png)
        if (EXISTS "${dist}/${name}")
            file (COPY "${dist}/${name}" DESTINATION "${DEST}")
        endif ()
    endforeach ()
    file (COPY "${SOURCE}/docs/index.html" DESTINATION "${DEST}")
else ()
    message (STATUS "Swagger UI not installed (run `npm ci` in api/); /docs will say so")
endif ()
