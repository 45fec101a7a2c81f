-- snippet: home_timezone
-- description: The company's home timezone (São Paulo), the business clock for an event
--   whose store has no row in reference.stores yet. Every store and the web shop `WEB` carry
--   their own `timezone` there; this fallback only keeps such an event on a defined day
--   instead of dropping it from the local-day views.
'America/Sao_Paulo'
