package main

// stores measures pgstore and redisstore on the servers their tests start
// (PostgreSQL 15, Redis with appendfsync always, a three-master Redis
// Cluster): each store's Increment against the bare driver running the same
// statement or command, call by call in the same run, and Group in front of
// each on one hot key against the plain store.
func (r *runner) stores() []row {
	var rows []row
	for _, p := range []struct {
		pkg   string
		cases []struct{ sub, what string }
	}{
		{"./pgstore", []struct{ sub, what string }{
			{"durable", "`pgstore` `Increment` vs `pool.QueryRow` of the same statement, 4 callers, one key, fsync'd commits (PostgreSQL 15)"},
			{"nosync", "the same with `synchronous_commit=off` in the session (the disk left out)"},
		}},
		{"./redisstore", []struct{ sub, what string }{
			{"standalone", "`redisstore` `Increment` vs `client.IncrBy`, 16 callers, one key (Redis 7, appendfsync always)"},
			{"cluster", "the same on a three-master Redis Cluster"},
			{"nosync", "the same on a Redis without persistence (the disk left out)"},
		}},
	} {
		res, err := r.goBench(p.pkg, "^BenchmarkIncrement$", "1s")
		for _, c := range p.cases {
			rw := row{what: c.what, target: "≥ 0.9×"}
			var b *benchResult
			if err == nil {
				b, err = need(res, "BenchmarkIncrement/"+c.sub, "inc/s", "base-inc/s", "x-driver")
			}
			if err != nil {
				rows = append(rows, r.notMeasured(err, rw)...)
				err = nil
				continue
			}
			i := b.medianRun("x-driver")
			rw.lib = perSecond(b.at("inc/s", i), "inc/s")
			rw.anchor = perSecond(b.at("base-inc/s", i), "inc/s")
			rw.ratio = ratioCell(b.metrics["x-driver"], i, 2, "×")
			rw.result = passIf(b.at("x-driver", i) >= 0.9)
			rows = append(rows, rw)
		}
	}
	groups := map[string]map[string]*benchResult{}
	groupErr := map[string]error{}
	for _, g := range []struct{ pkg, name, what string }{
		{"./pgstore", "BenchmarkGroup", "`Group(pgstore)` vs `pgstore`, one hot key, 256 callers (PostgreSQL 15)"},
		{"./redisstore", "BenchmarkGroup/always", "`Group(redisstore)` vs `redisstore`, one hot key, 256 callers (Redis, appendfsync always)"},
		{"./redisstore", "BenchmarkGroup/everysec", "the same with appendfsync everysec"},
	} {
		rw := row{what: g.what, target: "≥ 20×"}
		res, ok := groups[g.pkg]
		err := groupErr[g.pkg]
		if !ok && err == nil {
			res, err = r.goBench(g.pkg, "^BenchmarkGroup$", "1s")
			groups[g.pkg], groupErr[g.pkg] = res, err
		}
		var b *benchResult
		if err == nil {
			b, err = need(res, g.name, "inc/s", "base-inc/s", "x-plain")
		}
		if err != nil {
			rows = append(rows, r.notMeasured(err, rw)...)
			continue
		}
		i := b.medianRun("x-plain")
		rw.lib = perSecond(b.at("inc/s", i), "inc/s")
		rw.anchor = perSecond(b.at("base-inc/s", i), "inc/s")
		rw.ratio = ratioCell(b.metrics["x-plain"], i, 0, "×")
		rw.result = passIf(b.at("x-plain", i) >= 20)
		rows = append(rows, rw)
	}
	rows = append(rows, r.pgVisits()...)
	rows = append(rows, r.sqlite()...)
	r.notes = append(r.notes, "The PostgreSQL and Redis rows run on servers the tests start from Debian's packages; "+
		"their fsync time varies most with other work on the machine (see docs/stores-servers.md).")
	return rows
}

// pgVisits measures pgstore's group commit of visits: 64 callers recording
// new visitors through the store, through the same store without batching
// (a transaction per visit) and through the bare driver running the same
// visit statement (what RecordVisit did before batching), in alternating
// rounds of the same run. Targets: 4× both, on the median run, below the
// median of every set measured on the 2-core test machine (three sets of
// 3, 6 and 5 runs: medians 5.3–7.2× the bare driver and 5.5–7.9×
// unbatched; single runs 4.0–9.0× and 4.4–11×): a batch of up to 64
// visits costs one round trip and one commit, where each bare visit costs
// its own, on one of pgxpool's 4 connections.
func (r *runner) pgVisits() []row {
	rows := []row{
		{what: "`pgstore` `RecordVisit` with group commit vs `pool.QueryRow` of the same visit statement, 64 callers, a new visitor per visit, fsync'd commits (PostgreSQL 15)", target: "≥ 4×"},
		{what: "the same store with group commit vs without (a transaction per visit)", target: "≥ 4×"},
	}
	res, err := r.goBench("./pgstore", "^BenchmarkRecordVisitBatched$", "4000x")
	var b *benchResult
	if err == nil {
		b, err = need(res, "BenchmarkRecordVisitBatched", "batched-visits/s", "bare-visits/s", "unbatched-visits/s", "x-bare", "x-unbatched")
	}
	if err != nil {
		return r.notMeasured(err, rows...)
	}
	for i, c := range []struct{ anchor, ratio string }{{"bare-visits/s", "x-bare"}, {"unbatched-visits/s", "x-unbatched"}} {
		m := b.medianRun(c.ratio)
		rows[i].lib = perSecond(b.at("batched-visits/s", m), "visits/s")
		rows[i].anchor = perSecond(b.at(c.anchor, m), "visits/s")
		rows[i].ratio = ratioCell(b.metrics[c.ratio], m, 1, "×")
		rows[i].result = passIf(b.at(c.ratio, m) >= 4)
	}
	return rows
}

// sqlite measures sqlitestore against modernc.org/sqlite running the same
// upsert on its own connection, in alternating rounds, and Group in front
// of it on one hot key.
func (r *runner) sqlite() []row {
	var rows []row
	res, err := r.goBench("./sqlitestore", "^BenchmarkIncrement$", "2000x")
	for _, c := range []struct{ sub, what string }{
		{"sync=FULL/callers=1", "`sqlitestore` `Increment` vs the driver's same upsert, 1 caller, `synchronous=FULL` (an fsync per commit)"},
		{"sync=OFF/callers=16", "the same, 16 callers, `synchronous=OFF` (the disk left out: the statement's own cost)"},
	} {
		rw := row{what: c.what, target: "≥ 0.9×"}
		var b *benchResult
		if err == nil {
			b, err = need(res, "BenchmarkIncrement/"+c.sub, "store-inc/s", "bare-inc/s", "x-bare")
		}
		if err != nil {
			rows = append(rows, r.notMeasured(err, rw)...)
			err = nil
			continue
		}
		i := b.medianRun("x-bare")
		rw.lib = perSecond(b.at("store-inc/s", i), "inc/s")
		rw.anchor = perSecond(b.at("bare-inc/s", i), "inc/s")
		rw.ratio = ratioCell(b.metrics["x-bare"], i, 2, "×")
		rw.result = passIf(b.at("x-bare", i) >= 0.9)
		rows = append(rows, rw)
	}
	rows = append(rows, r.sqliteVisits())
	rw := row{what: "`Group(sqlitestore)` vs `sqlitestore`, one hot key, 256 callers", target: "≥ 20×"}
	res, err = r.goBench("./sqlitestore", "^BenchmarkGroupHotKey$", "20000x")
	var b *benchResult
	if err == nil {
		b, err = need(res, "BenchmarkGroupHotKey", "group-inc/s", "plain-inc/s", "x-plain")
	}
	if err != nil {
		return append(rows, r.notMeasured(err, rw)...)
	}
	i := b.medianRun("x-plain")
	rw.lib = perSecond(b.at("group-inc/s", i), "inc/s")
	rw.anchor = perSecond(b.at("plain-inc/s", i), "inc/s")
	rw.ratio = ratioCell(b.metrics["x-plain"], i, 0, "×")
	rw.result = passIf(b.at("x-plain", i) >= 20)
	return append(rows, rw)
}

// sqliteVisits measures sqlitestore's group commit of visits: 64 callers
// recording new visitors on a store with batching and on one without, in
// alternating rounds of the same run.
func (r *runner) sqliteVisits() row {
	rw := row{what: "`sqlitestore` `RecordVisit` with group commit vs the same store without (a transaction per visit), 64 callers, a new visitor per visit, `synchronous=FULL`", target: "≥ 5×"}
	res, err := r.goBench("./sqlitestore", "^BenchmarkRecordVisitBatched$", "4000x")
	var b *benchResult
	if err == nil {
		b, err = need(res, "BenchmarkRecordVisitBatched", "batched-visits/s", "unbatched-visits/s", "x-unbatched")
	}
	if err != nil {
		return r.notMeasured(err, rw)[0]
	}
	i := b.medianRun("x-unbatched")
	rw.lib = perSecond(b.at("batched-visits/s", i), "visits/s")
	rw.anchor = perSecond(b.at("unbatched-visits/s", i), "visits/s")
	rw.ratio = ratioCell(b.metrics["x-unbatched"], i, 1, "×")
	rw.result = passIf(b.at("x-unbatched", i) >= 5)
	return rw
}
