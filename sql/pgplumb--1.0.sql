/* sql/pgplumb--1.0.sql -- install script of pgplumb 1.0 */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION pgplumb" to load this file. \quit

-- Each collector owns one section below; keep edits inside your section.

-- ==== statements ====
-- ==== end statements ====

-- ==== index_usage ====
-- ==== end index_usage ====

-- ==== n_plus_one ====
-- ==== end n_plus_one ====
