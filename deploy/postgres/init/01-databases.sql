-- One database per service (each service owns its schema; see services.SERVICES).
-- The postgres image runs this once, when it initialises an empty data volume; the tables
-- come later from each service's Alembic migrations (docker-compose.yml's `migrate`).
CREATE DATABASE openrcm_claims;
CREATE DATABASE openrcm_eligibility;
CREATE DATABASE openrcm_remittance;
CREATE DATABASE openrcm_denials;
CREATE DATABASE openrcm_collections;
