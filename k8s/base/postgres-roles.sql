-- One login role per service, owning its schema and nothing else: a service cannot read or
-- change another's tables (README, Least privilege). Idempotent; run as a role that may create
-- roles, once per service, by the local launcher (crates/stack), Compose and the Kubernetes
-- Postgres' first start (postgres-roles.sh):
--   psql -v ON_ERROR_STOP=1 -v role=mealkit_order -v schema=ordering -v password=... -f postgres-roles.sql
SELECT format('CREATE ROLE %I', :'role')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \gexec
ALTER ROLE :"role" LOGIN PASSWORD :'password' NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
SELECT format('CREATE SCHEMA %I AUTHORIZATION %I', :'schema', :'role')
 WHERE NOT EXISTS (SELECT FROM pg_namespace WHERE nspname = :'schema') \gexec
ALTER SCHEMA :"schema" OWNER TO :"role";
-- Tables and sequences an earlier version created as the administrator (a sequence a column
-- owns follows its table).
SELECT format('ALTER %s %I.%I OWNER TO %I',
              CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW' ELSE 'TABLE' END,
              n.nspname, c.relname, :'role')
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = :'schema' AND c.relkind IN ('r', 'p', 'S', 'v')
   AND c.relowner <> (SELECT oid FROM pg_roles WHERE rolname = :'role')
   AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i')) \gexec
-- Nobody but the administrator creates in the shared public schema (the default since
-- Postgres 15; said again for older servers).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
