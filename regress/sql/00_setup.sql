-- The extension installs into schema pgplumb and is preloaded.
CREATE EXTENSION pgplumb;
SELECT extname, extnamespace::regnamespace AS schema FROM pg_extension WHERE extname = 'pgplumb';
SHOW shared_preload_libraries;
