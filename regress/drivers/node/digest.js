// regress/drivers/node/digest.js -- the result digest every Node.js workload
// prints: one line per observation, "section<TAB>key<TAB>value", sorted so that
// concurrent clients finishing in any order give the same text.  run.sh
// compares the digest of the direct run with the digest of the pooled run.
//
// A workload also checks what it sees against what it expects (expect()); a
// mismatch or an unexpected error is recorded in the digest and makes the
// process exit 1, so a workload that is wrong even against PostgreSQL
// directly fails the direct run instead of comparing equal to itself.
'use strict';

class Digest {
  constructor(driver) {
    this.driver = driver;
    this.lines = [];
    this.failures = 0;
    this.where = new Map(); // task -> what it is doing, for a report on a hang
    this.finished = false;
  }

  // Note where task i is; done(i) when it has finished.
  at(i, what) { this.where.set(i, what); }
  done(i) { this.where.delete(i); }

  // After ms, record every unfinished task as stuck, print the digest and
  // exit 1: a hang through a pooler must still give a digest to compare.
  deadline(ms) {
    const t = setTimeout(() => {
      if (this.finished) process.exit(); // digest printed; only closing hangs
      for (const [i, what] of [...this.where.entries()].sort((a, b) => a[0] - b[0])) {
        this.put('main', `stuck.${i}`, what);
      }
      this.fail(`deadline of ${ms / 1000} s passed with ${this.where.size} tasks unfinished`);
      process.exitCode = this.finish();
      process.exit();
    }, ms);
    t.unref();
  }

  put(section, key, value) {
    this.lines.push(`${section}\t${key}\t${value}`);
  }

  // Record what was seen; flag it when it is not what PostgreSQL gives.
  expect(section, key, got, want) {
    const g = typeof got === 'string' ? got : JSON.stringify(got);
    const w = typeof want === 'string' ? want : JSON.stringify(want);
    this.put(section, key, g);
    if (g !== w) {
      this.put(section, key, `MISMATCH want ${w}`);
      this.fail(`${section} ${key}: got ${g}, want ${w}`);
    }
  }

  // An error the workload did not ask for.
  error(section, key, err) {
    const code = (err && err.code) || 'no-sqlstate';
    const msg = String((err && err.message) || err).split('\n')[0];
    this.put(section, key, `ERROR ${code} ${msg}`);
    this.fail(`${section} ${key}: ${code} ${msg}`);
  }

  // An error the workload provoked on purpose: only its SQLSTATE is kept.
  expectedError(section, key, err, code) {
    if (err && err.code === code) this.put(section, key, `expected-error ${code}`);
    else this.error(section, key, err);
  }

  fail(what) {
    this.failures++;
    if (this.failures <= 20) process.stderr.write(`${this.driver}: ${what}\n`);
  }

  // Print the sorted digest and the end marker run.sh looks for; return the exit status.
  finish() {
    this.finished = true;
    this.lines.sort();
    process.stdout.write(this.lines.join('\n') + '\n');
    process.stdout.write(`end ${this.driver} lines=${this.lines.length} failures=${this.failures}\n`);
    return this.failures === 0 ? 0 : 1;
  }
}

// Connection settings, the same for every workload (set by run.sh).
function settings() {
  const env = process.env;
  return {
    host: env.DRV_HOST || '127.0.0.1',
    port: Number(env.DRV_PORT || 5432),
    database: env.DRV_DB || 'drivers',
    user: env.DRV_USER || 'postgres',
    password: env.DRV_PASSWORD || '',
    clients: Number(env.DRV_CLIENTS || 24),
    rounds: Number(env.DRV_ROUNDS || 8),
    deadlineMs: 1000 * Number(env.DRV_DEADLINE || 60),
  };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A time zone per client, so that a SET leaking between clients shows.
const ZONES = ['UTC', 'Asia/Tokyo', 'America/New_York', 'Europe/Berlin', 'Australia/Sydney', 'Asia/Kolkata'];
const zoneOf = (i) => ZONES[i % ZONES.length];

module.exports = { Digest, settings, sleep, zoneOf };
