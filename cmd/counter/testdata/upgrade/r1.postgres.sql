--
-- PostgreSQL database dump
--

\restrict 0lYFRD7JkBcYvqgD3pe1dCdko8U1dEXy26gaKkPhQUyuc250noX5RkVrhr6bHwm

-- Dumped from database version 15.18 (Debian 15.18-0+deb12u1)
-- Dumped by pg_dump version 15.18 (Debian 15.18-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: counter_counts; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.counter_counts (
    key text NOT NULL COLLATE pg_catalog."C",
    count bigint DEFAULT 0 NOT NULL,
    visitors bigint DEFAULT 0 NOT NULL,
    CONSTRAINT counter_counts_count_check CHECK ((count >= 0)),
    CONSTRAINT counter_counts_visitors_check CHECK ((visitors >= 0))
);


--
-- Name: counter_days; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.counter_days (
    key text NOT NULL COLLATE pg_catalog."C",
    day date NOT NULL,
    count bigint DEFAULT 0 NOT NULL,
    visitors bigint DEFAULT 0 NOT NULL,
    CONSTRAINT counter_days_count_check CHECK ((count >= 0)),
    CONSTRAINT counter_days_visitors_check CHECK ((visitors >= 0))
);


--
-- Name: counter_marks; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.counter_marks (
    key text NOT NULL COLLATE pg_catalog."C",
    mark text NOT NULL COLLATE pg_catalog."C",
    expires timestamp with time zone NOT NULL
);


--
-- Name: counter_salts; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.counter_salts (
    day date NOT NULL,
    salt bytea NOT NULL,
    expires timestamp with time zone NOT NULL
);


--
-- Data for Name: counter_counts; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.counter_counts (key, count, visitors) FROM stdin;
home	3	2
blog	1	1
\.


--
-- Data for Name: counter_days; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.counter_days (key, day, count, visitors) FROM stdin;
home	2026-12-03	3	2
blog	2026-12-03	1	1
\.


--
-- Data for Name: counter_marks; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.counter_marks (key, mark, expires) FROM stdin;
home	v:2026-12-03:410a5b9bffb21e4d0f004631a7e13972	2026-12-05 00:00:00+00
home	v:2026-12-03:3280016a84f785b3386a751a44a15d10	2026-12-05 00:00:00+00
blog	i:abc	2026-12-04 23:24:25.726344+00
blog	v:2026-12-03:b8ea5f5b4b5d4bdfe4e6611938fbd5e8	2026-12-05 00:00:00+00
\.


--
-- Data for Name: counter_salts; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.counter_salts (day, salt, expires) FROM stdin;
2026-12-03	\\xed3562f968282ba7bc0fe76cc3d81de0b7c89cfd5b1a7864c340c07ae239da19	2026-12-05 00:00:00+00
\.


--
-- Name: counter_counts counter_counts_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.counter_counts
    ADD CONSTRAINT counter_counts_pkey PRIMARY KEY (key);


--
-- Name: counter_days counter_days_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.counter_days
    ADD CONSTRAINT counter_days_pkey PRIMARY KEY (key, day);


--
-- Name: counter_marks counter_marks_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.counter_marks
    ADD CONSTRAINT counter_marks_pkey PRIMARY KEY (key, mark);


--
-- Name: counter_salts counter_salts_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.counter_salts
    ADD CONSTRAINT counter_salts_pkey PRIMARY KEY (day);


--
-- Name: counter_marks_expires; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX counter_marks_expires ON public.counter_marks USING btree (expires);


--
-- PostgreSQL database dump complete
--

\unrestrict 0lYFRD7JkBcYvqgD3pe1dCdko8U1dEXy26gaKkPhQUyuc250noX5RkVrhr6bHwm

