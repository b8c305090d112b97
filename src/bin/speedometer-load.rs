//! `speedometer-load`: WebSocket load generator for the speedometer server.
//!
//! Opens `--connections` WebSockets at `--ramp` connections per second (optionally spread over
//! several loopback source addresses), then, per connection, either
//!
//! - sends `--rate R` readings a second (open loop),
//! - keeps `--window W` readings in flight (closed loop: every answer releases the next send), or
//! - sends nothing and holds the connection for `--hold SECS` (idle connections, for memory).
//!
//! Every reading is `{"id":"<run>-<conn>-<seq>","speed":S,"timestamp":<epoch ms>}`. Answers come
//! in send order per connection, so each answer is matched with the oldest unanswered send: an
//! echo must be the identical text, an error frame answers that send too. Echo latency goes into
//! an HDR histogram (microseconds).
//!
//! Timeline: connections ramp up; once every connection attempt has resolved, the measuring
//! period of `--duration` seconds starts (readings are sent from the moment a connection opens;
//! echoes per second are counted over the measuring period only). Then sending stops, the
//! outstanding answers are awaited (at most `--drain-timeout`), and every connection is closed
//! with a close frame. With `--database-url` the rows whose `reading_id` starts with the run id
//! are counted and must equal the echoes.
//!
//! Output: a human-readable summary and one line `RESULT {json}`. The exit status is non-zero on
//! any failed or dropped connection, mismatched or missing answer, error frame, or row-count
//! mismatch. Every phase is bounded in time.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix_rt::net::{TcpSocket, TcpStream};
use anyhow::{anyhow, bail, Context as _};
use clap::{ArgGroup, Parser};
use futures::{FutureExt as _, SinkExt as _, StreamExt as _};
use hdrhistogram::Histogram;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;

/// Command line.
#[derive(Parser, Debug, Clone)]
#[command(
    name = "speedometer-load",
    about = "WebSocket load generator for the speedometer server (loopback targets only)",
    group(ArgGroup::new("mode").required(true).args(["rate", "window", "hold"]))
)]
struct Args {
    /// WebSocket URL of the server; its host must be a loopback address or `localhost`.
    #[arg(long, default_value = "ws://127.0.0.1:8765/ws")]
    url: String,
    /// Connections to open.
    #[arg(long, short = 'c', default_value_t = 64)]
    connections: usize,
    /// New connections per second while ramping up.
    #[arg(long, default_value_t = 1000.0)]
    ramp: f64,
    /// Open loop: readings per second sent on each connection.
    #[arg(long)]
    rate: Option<f64>,
    /// Closed loop: readings in flight on each connection.
    #[arg(long)]
    window: Option<usize>,
    /// Idle mode: send nothing, keep the connections open this many seconds once all are open.
    #[arg(long, value_name = "SECS")]
    hold: Option<f64>,
    /// Length of the measuring period in seconds (starts once every connection attempt resolved).
    #[arg(long, short = 'd', default_value_t = 20.0)]
    duration: f64,
    /// Spread connections over this many loopback source addresses, 127.0.0.1 ... 127.0.0.N.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=254))]
    source_addrs: u8,
    /// Worker threads (each runs its own single-threaded event loop).
    #[arg(long, short = 't', default_value_t = 2)]
    threads: usize,
    /// After the run, count this database's `speed_data` rows of the run (mysql://...).
    #[arg(long)]
    database_url: Option<String>,
    /// Longest wait for outstanding answers after sending stopped, seconds.
    #[arg(long, default_value_t = 15.0)]
    drain_timeout: f64,
    /// Longest time for TCP connect + WebSocket handshake + welcome frame, seconds.
    #[arg(long, default_value_t = 10.0)]
    connect_timeout: f64,
    /// Prefix of every reading id (default: 8 random hex digits).
    #[arg(long)]
    run_id: Option<String>,
    /// Seconds between progress lines on stderr; 0 = none.
    #[arg(long, default_value_t = 5.0)]
    progress: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Rate(f64),
    Window(usize),
    Hold(f64),
}

/// Where the run is; connections watch it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Open connections and send.
    Run,
    /// Send nothing new; close once every send is answered.
    Drain,
    /// Close now.
    Close,
}

/// What the URL names.
#[derive(Debug, Clone)]
struct Target {
    url: String,
    addr: SocketAddr,
}

/// Live counters shared by all threads (progress, phase decisions).
#[derive(Default)]
struct Live {
    /// Connection attempts that opened or failed.
    resolved: AtomicU64,
    opened: AtomicU64,
    failed: AtomicU64,
    /// Connections open right now.
    open_now: AtomicI64,
    /// Connection tasks that ended (after opening or failing).
    finished: AtomicU64,
    sent: AtomicU64,
    echoed: AtomicU64,
    error_frames: AtomicU64,
    /// Inside the measuring period: sends now are the ones `latency_us` covers.
    measuring: AtomicBool,
    /// Largest echo latency since the last progress line.
    max_latency_us: AtomicU64,
    /// Largest send lag since the last progress line.
    max_send_lag_us: AtomicU64,
}

/// What one thread saw; merged at the end.
struct Stats {
    opened: u64,
    failed: u64,
    sent: u64,
    echoed: u64,
    mismatched: u64,
    /// Sends skipped over by a later answer (answer missing or out of order).
    skipped: u64,
    /// Answers with nothing outstanding, or frames of an unexpected kind.
    unexpected: u64,
    /// Sends without an answer when the connection closed.
    unanswered: u64,
    /// Connections that ended before the client closed them.
    dropped: u64,
    /// Connections whose close handshake completed.
    closed_clean: u64,
    /// Connections open at the end of the hold (hold mode).
    held: u64,
    pings: u64,
    errors: BTreeMap<String, u64>,
    /// Close codes the server sent on connections it closed first.
    server_close_codes: BTreeMap<u16, u64>,
    examples: Vec<String>,
    /// Echo latency of readings sent during the measuring period.
    latency_us: Histogram<u64>,
    /// Echo latency of every reading, ramp-up and drain included.
    latency_all_us: Histogram<u64>,
    /// Open loop: how late each send was against its schedule (the generator's own lag).
    send_lag_us: Histogram<u64>,
}

impl Stats {
    fn new() -> anyhow::Result<Self> {
        Ok(Self {
            opened: 0,
            failed: 0,
            sent: 0,
            echoed: 0,
            mismatched: 0,
            skipped: 0,
            unexpected: 0,
            unanswered: 0,
            dropped: 0,
            closed_clean: 0,
            held: 0,
            pings: 0,
            errors: BTreeMap::new(),
            server_close_codes: BTreeMap::new(),
            examples: Vec::new(),
            // 1 µs .. 1 h at 3 significant digits.
            latency_us: Histogram::new_with_bounds(1, 3_600_000_000, 3)
                .map_err(|e| anyhow!("histogram: {e}"))?,
            latency_all_us: Histogram::new_with_bounds(1, 3_600_000_000, 3)
                .map_err(|e| anyhow!("histogram: {e}"))?,
            send_lag_us: Histogram::new_with_bounds(1, 3_600_000_000, 3)
                .map_err(|e| anyhow!("histogram: {e}"))?,
        })
    }

    fn example(&mut self, what: String) {
        if self.examples.len() < 8 {
            self.examples.push(what);
        }
    }

    fn merge(&mut self, other: Stats) -> anyhow::Result<()> {
        self.opened += other.opened;
        self.failed += other.failed;
        self.sent += other.sent;
        self.echoed += other.echoed;
        self.mismatched += other.mismatched;
        self.skipped += other.skipped;
        self.unexpected += other.unexpected;
        self.unanswered += other.unanswered;
        self.dropped += other.dropped;
        self.closed_clean += other.closed_clean;
        self.held += other.held;
        self.pings += other.pings;
        for (code, n) in other.errors {
            *self.errors.entry(code).or_default() += n;
        }
        for (code, n) in other.server_close_codes {
            *self.server_close_codes.entry(code).or_default() += n;
        }
        for e in other.examples {
            self.example(e);
        }
        self.latency_all_us
            .add(&other.latency_all_us)
            .map_err(|e| anyhow!("histogram merge: {e}"))?;
        self.send_lag_us
            .add(&other.send_lag_us)
            .map_err(|e| anyhow!("histogram merge: {e}"))?;
        self.latency_us
            .add(&other.latency_us)
            .map_err(|e| anyhow!("histogram merge: {e}"))
    }

    fn error_frames(&self) -> u64 {
        self.errors.values().sum()
    }
}

/// Everything a connection task needs; one per worker thread.
struct Ctx {
    args: Args,
    mode: Mode,
    target: Target,
    run_id: String,
    t0: actix_rt::time::Instant,
    phase: watch::Receiver<Phase>,
    live: Arc<Live>,
    stats: RefCell<Stats>,
    ws_config: WebSocketConfig,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("speedometer-load: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Runs the whole load; `Ok(false)` when a check failed.
fn run(args: Args) -> anyhow::Result<bool> {
    let mode = match (args.rate, args.window, args.hold) {
        (Some(r), None, None) if r > 0.0 && r.is_finite() => Mode::Rate(r),
        (None, Some(w), None) if w > 0 => Mode::Window(w),
        (None, None, Some(h)) if h >= 0.0 && h.is_finite() => Mode::Hold(h),
        _ => bail!("give exactly one of --rate (> 0), --window (> 0) or --hold (>= 0)"),
    };
    if args.connections == 0 || args.threads == 0 {
        bail!("--connections and --threads must be at least 1");
    }
    if !(args.ramp > 0.0 && args.ramp.is_finite()) {
        bail!("--ramp must be a positive number");
    }
    for (name, v) in [
        ("--duration", args.duration),
        ("--drain-timeout", args.drain_timeout),
        ("--connect-timeout", args.connect_timeout),
        ("--progress", args.progress),
    ] {
        if !(v >= 0.0 && v.is_finite()) {
            bail!("{name} must be a non-negative number");
        }
    }
    let target = parse_target(&args.url)?;
    if args.source_addrs > 1 && !target.addr.ip().is_ipv4() {
        bail!("--source-addrs > 1 needs an IPv4 loopback target");
    }
    let run_id = match &args.run_id {
        Some(id)
            if !id.is_empty()
                && id.len() <= 24
                && id.bytes().all(|b| b.is_ascii_alphanumeric()) =>
        {
            id.clone()
        }
        Some(_) => bail!("--run-id must be 1-24 ASCII letters or digits"),
        None => uuid::Uuid::new_v4().simple().to_string()[..8].to_string(),
    };

    let mode_text = match mode {
        Mode::Rate(r) => format!("open loop, {r} readings/s per connection"),
        Mode::Window(w) => format!("closed loop, window {w}"),
        Mode::Hold(h) => format!("idle, hold {h} s"),
    };
    println!(
        "speedometer-load: run {run_id}: {} connections to {} at {}/s over {} source address(es), {mode_text}, {} thread(s)",
        args.connections, target.url, args.ramp, args.source_addrs, args.threads
    );

    let live = Arc::new(Live::default());
    let (phase_tx, phase_rx) = watch::channel(Phase::Run);
    let started = Instant::now();
    let t0 = started + Duration::from_millis(50);

    let mut workers = Vec::with_capacity(args.threads);
    for thread in 0..args.threads {
        let ctx_parts = (
            args.clone(),
            target.clone(),
            run_id.clone(),
            phase_rx.clone(),
            live.clone(),
        );
        let handle = std::thread::Builder::new()
            .name(format!("load-{thread}"))
            .spawn(move || -> anyhow::Result<Stats> {
                let (args, target, run_id, phase, live) = ctx_parts;
                let rt = actix_rt::Runtime::new().context("starting an event loop")?;
                let read_buffer = if matches!(mode, Mode::Window(_)) {
                    64 * 1024
                } else {
                    4 * 1024
                };
                let ctx = Rc::new(Ctx {
                    mode,
                    target,
                    run_id,
                    t0: actix_rt::time::Instant::from_std(t0),
                    phase,
                    live,
                    stats: RefCell::new(Stats::new()?),
                    ws_config: WebSocketConfig::default()
                        .read_buffer_size(read_buffer)
                        .write_buffer_size(16 * 1024),
                    args,
                });
                rt.block_on(worker(thread, ctx.clone()));
                let ctx = Rc::try_unwrap(ctx)
                    .map_err(|_| anyhow!("connection tasks outlived the run"))?;
                Ok(ctx.stats.into_inner())
            })
            .context("starting a worker thread")?;
        workers.push(handle);
    }

    // The conductor: decides the phases from the live counters.
    let n = args.connections as u64;
    let ramp_time = Duration::from_secs_f64(args.connections as f64 / args.ramp);
    let open_deadline =
        t0 + ramp_time + Duration::from_secs_f64(args.connect_timeout) + Duration::from_secs(2);
    let mut progress = Progress::new(started, args.progress);
    while live.resolved.load(Ordering::Relaxed) < n && Instant::now() < open_deadline {
        std::thread::sleep(Duration::from_millis(10));
        progress.tick(&live);
    }
    let opened_at = Instant::now();
    let open_time = opened_at.duration_since(t0);
    live.measuring.store(true, Ordering::Relaxed);
    let echoed_at_start = live.echoed.load(Ordering::Relaxed);
    let opened = live.opened.load(Ordering::Relaxed);
    let failed = live.failed.load(Ordering::Relaxed);
    println!(
        "READY open={} failed={} unresolved={} after {:.2} s",
        live.open_now.load(Ordering::Relaxed),
        failed,
        n.saturating_sub(opened + failed),
        open_time.as_secs_f64()
    );
    let _ = std::io::stdout().flush();

    let mut held_open = None;
    let measure_time;
    let echoed_in_period;
    match mode {
        Mode::Hold(secs) => {
            let end = opened_at + Duration::from_secs_f64(secs);
            while Instant::now() < end {
                std::thread::sleep(
                    Duration::from_millis(20).min(end.saturating_duration_since(Instant::now())),
                );
                progress.tick(&live);
            }
            held_open = Some(live.open_now.load(Ordering::Relaxed).max(0) as u64);
            measure_time = opened_at.elapsed();
            echoed_in_period = 0;
        }
        Mode::Rate(_) | Mode::Window(_) if opened == 0 => {
            // Nothing to measure.
            echoed_in_period = 0;
            measure_time = Duration::ZERO;
        }
        Mode::Rate(_) | Mode::Window(_) => {
            let end = opened_at + Duration::from_secs_f64(args.duration);
            while Instant::now() < end {
                std::thread::sleep(
                    Duration::from_millis(5).min(end.saturating_duration_since(Instant::now())),
                );
                progress.tick(&live);
            }
            echoed_in_period = live.echoed.load(Ordering::Relaxed) - echoed_at_start;
            measure_time = opened_at.elapsed();
        }
    }
    live.measuring.store(false, Ordering::Relaxed);
    let _ = phase_tx.send(Phase::Drain);
    let drain_start = Instant::now();
    let drain_end = drain_start + Duration::from_secs_f64(args.drain_timeout);
    while live.finished.load(Ordering::Relaxed) < n && Instant::now() < drain_end {
        std::thread::sleep(Duration::from_millis(10));
        progress.tick(&live);
    }
    let drain_time = drain_start.elapsed();
    let _ = phase_tx.send(Phase::Close);

    let mut total = Stats::new()?;
    for handle in workers {
        let stats = handle
            .join()
            .map_err(|_| anyhow!("a worker thread panicked"))??;
        total.merge(stats)?;
    }
    if let Some(held) = held_open {
        total.held = held;
    }
    let wall = started.elapsed();

    // Rows in the database.
    let db = args
        .database_url
        .as_ref()
        .map(|url| count_rows(url, &run_id));

    let report = Report {
        args: &args,
        mode,
        run_id: &run_id,
        stats: &total,
        open_time,
        measure_time,
        echoed_in_period,
        drain_time,
        wall,
        db: db.as_ref(),
    };
    report.print();
    Ok(report.passed())
}

/// Accepts `ws://HOST:PORT/PATH` with a loopback HOST only.
fn parse_target(url: &str) -> anyhow::Result<Target> {
    let rest = url
        .strip_prefix("ws://")
        .ok_or_else(|| anyhow!("--url must start with ws:// (got {url})"))?;
    let authority = rest.split('/').next().unwrap_or_default();
    let (host, port) = authority
        .rsplit_once(':')
        .ok_or_else(|| anyhow!("--url needs an explicit port (got {url})"))?;
    let port: u16 = port
        .parse()
        .with_context(|| format!("bad port in --url {url}"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let ip: IpAddr = if host.eq_ignore_ascii_case("localhost") {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        host.parse().with_context(|| {
            format!("--url host must be an IP address or localhost (got {host})")
        })?
    };
    if !ip.is_loopback() {
        bail!("refusing to load {ip}: only loopback targets are allowed");
    }
    Ok(Target {
        url: url.to_string(),
        addr: SocketAddr::new(ip, port),
    })
}

/// Periodic progress lines on stderr.
struct Progress {
    started: Instant,
    every: Option<Duration>,
    next: Instant,
    last_echoed: u64,
    last_at: Instant,
}

impl Progress {
    fn new(started: Instant, every_secs: f64) -> Self {
        let every = (every_secs > 0.0).then(|| Duration::from_secs_f64(every_secs));
        Self {
            started,
            every,
            next: started + every.unwrap_or_default(),
            last_echoed: 0,
            last_at: started,
        }
    }

    fn tick(&mut self, live: &Live) {
        let Some(every) = self.every else { return };
        let now = Instant::now();
        if now < self.next {
            return;
        }
        self.next = now + every;
        let echoed = live.echoed.load(Ordering::Relaxed);
        let rate =
            (echoed - self.last_echoed) as f64 / now.duration_since(self.last_at).as_secs_f64();
        self.last_echoed = echoed;
        self.last_at = now;
        let max_latency = live.max_latency_us.swap(0, Ordering::Relaxed) as f64 / 1000.0;
        let max_lag = live.max_send_lag_us.swap(0, Ordering::Relaxed) as f64 / 1000.0;
        eprintln!(
            "[{:6.1}s] open={} opened={} failed={} sent={} echoed={} errors={} ({:.0} echoes/s, max latency {max_latency:.1} ms, max send lag {max_lag:.1} ms)",
            now.duration_since(self.started).as_secs_f64(),
            live.open_now.load(Ordering::Relaxed),
            live.opened.load(Ordering::Relaxed),
            live.failed.load(Ordering::Relaxed),
            live.sent.load(Ordering::Relaxed),
            echoed,
            live.error_frames.load(Ordering::Relaxed),
            rate
        );
    }
}

/// One worker thread: spawns its share of the connections (every `threads`-th) and waits for
/// them all.
async fn worker(thread: usize, ctx: Rc<Ctx>) {
    let mut tasks = Vec::new();
    for idx in (thread..ctx.args.connections).step_by(ctx.args.threads) {
        let ctx = ctx.clone();
        tasks.push(actix_rt::spawn(async move {
            connection(idx, &ctx).await;
            ctx.live.finished.fetch_add(1, Ordering::Relaxed);
        }));
    }
    for task in tasks {
        if let Err(e) = task.await {
            ctx.stats
                .borrow_mut()
                .example(format!("connection task failed: {e}"));
        }
    }
}

/// One connection from start to close.
async fn connection(idx: usize, ctx: &Ctx) {
    let start = ctx.t0 + Duration::from_secs_f64(idx as f64 / ctx.args.ramp);
    actix_rt::time::sleep_until(start).await;
    if *ctx.phase.borrow() != Phase::Run {
        // Never started: the run ended before its turn (it counts as failed).
        ctx.stats.borrow_mut().failed += 1;
        ctx.live.failed.fetch_add(1, Ordering::Relaxed);
        ctx.live.resolved.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let opened = actix_rt::time::timeout(
        Duration::from_secs_f64(ctx.args.connect_timeout),
        open(idx, ctx),
    )
    .await;
    let failure = match opened {
        Ok(Ok(ws)) => Ok(ws),
        Ok(Err(e)) => Err(format!("{e:#}")),
        Err(_) => Err("connect timed out".to_string()),
    };
    let ws = match failure {
        Ok(ws) => ws,
        Err(reason) => {
            let mut stats = ctx.stats.borrow_mut();
            stats.failed += 1;
            stats.example(format!("connection {idx}: {reason}"));
            ctx.live.failed.fetch_add(1, Ordering::Relaxed);
            ctx.live.resolved.fetch_add(1, Ordering::Relaxed);
            return;
        }
    };
    ctx.stats.borrow_mut().opened += 1;
    ctx.live.opened.fetch_add(1, Ordering::Relaxed);
    ctx.live.open_now.fetch_add(1, Ordering::Relaxed);
    ctx.live.resolved.fetch_add(1, Ordering::Relaxed);

    let mut conn = Conn {
        idx,
        ctx,
        ws,
        pending: VecDeque::new(),
        seq: 0,
        rng: 0x9E37_79B9_7F4A_7C15 ^ (idx as u64).wrapping_mul(0xD134_2543_DE82_EF95) | 1,
    };
    conn.drive().await;
    ctx.live.open_now.fetch_sub(1, Ordering::Relaxed);
}

/// TCP connect (from the connection's source address), WebSocket handshake, welcome frame.
async fn open(idx: usize, ctx: &Ctx) -> anyhow::Result<WebSocketStream<TcpStream>> {
    let target = ctx.target.addr;
    let socket = if target.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .context("socket")?;
    if ctx.args.source_addrs > 1 {
        let k = (idx % ctx.args.source_addrs as usize) as u8 + 1;
        let source = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, k)), 0);
        socket
            .bind(source)
            .with_context(|| format!("binding {source}"))?;
    }
    let stream = socket
        .connect(target)
        .await
        .with_context(|| format!("connecting to {target}"))?;
    stream.set_nodelay(true).context("TCP_NODELAY")?;
    let (mut ws, _response) = tokio_tungstenite::client_async_with_config(
        ctx.target.url.as_str(),
        stream,
        Some(ctx.ws_config),
    )
    .await
    .context("WebSocket handshake")?;
    match ws.next().await {
        Some(Ok(Message::Text(text))) if frame_type(&text).as_deref() == Some("connected") => {
            Ok(ws)
        }
        Some(Ok(other)) => bail!("expected the welcome frame, got {other:?}"),
        Some(Err(e)) => Err(e).context("reading the welcome frame"),
        None => bail!("closed before the welcome frame"),
    }
}

/// How a connection's main loop ended.
enum End {
    /// The client decided to close (drained, or told to close).
    Close,
    /// The server closed or the connection broke.
    Dropped,
}

/// An open connection and the sends it waits answers for.
struct Conn<'a> {
    idx: usize,
    ctx: &'a Ctx,
    ws: WebSocketStream<TcpStream>,
    /// Texts sent and not yet answered, oldest first, with their send time and whether they
    /// were sent in the measuring period.
    pending: VecDeque<(Utf8Bytes, Instant, bool)>,
    seq: u64,
    rng: u64,
}

impl Conn<'_> {
    async fn drive(&mut self) {
        let ctx = self.ctx;
        let mut phase_rx = ctx.phase.clone();
        let mut ticker = match ctx.mode {
            Mode::Rate(r) => {
                let mut t = actix_rt::time::interval(Duration::from_secs_f64(1.0 / r));
                t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
                Some(t)
            }
            _ => None,
        };
        let end = loop {
            let phase = *phase_rx.borrow_and_update();
            match phase {
                Phase::Close => break End::Close,
                Phase::Drain if self.pending.is_empty() => break End::Close,
                Phase::Run => {
                    if let Mode::Window(w) = ctx.mode {
                        if self.pending.len() < w {
                            let mut ok = true;
                            while self.pending.len() < w && ok {
                                ok = self.feed().await;
                            }
                            if !ok || self.ws.flush().await.is_err() {
                                break self.note_drop("write failed");
                            }
                        }
                    }
                }
                Phase::Drain => {}
            }
            let sending = phase == Phase::Run && ticker.is_some();
            tokio::select! {
                biased;
                msg = self.ws.next() => {
                    match self.on_message(msg) {
                        Ok(()) => {}
                        Err(reason) => break self.note_drop(&reason),
                    }
                    // Take whatever else has already arrived before writing again.
                    let mut broke = None;
                    while let Some(msg) = self.ws.next().now_or_never() {
                        if let Err(reason) = self.on_message(msg) {
                            broke = Some(reason);
                            break;
                        }
                    }
                    if let Some(reason) = broke {
                        break self.note_drop(&reason);
                    }
                }
                _ = phase_rx.changed() => {}
                scheduled = async {
                    match ticker.as_mut() {
                        Some(t) => t.tick().await,
                        None => std::future::pending().await,
                    }
                }, if sending => {
                    // How late the send is against its schedule: the load generator's own lag.
                    let lag = actix_rt::time::Instant::now().saturating_duration_since(scheduled);
                    let lag_us = lag.as_micros().max(1) as u64;
                    ctx.stats.borrow_mut().send_lag_us.saturating_record(lag_us);
                    ctx.live.max_send_lag_us.fetch_max(lag_us, Ordering::Relaxed);
                    if !self.feed().await || self.ws.flush().await.is_err() {
                        break self.note_drop("write failed");
                    }
                }
            }
        };
        if let End::Close = end {
            self.close().await;
        }
        let mut stats = ctx.stats.borrow_mut();
        stats.unanswered += self.pending.len() as u64;
    }

    /// Queues one reading for writing; false when the connection is unusable.
    async fn feed(&mut self) -> bool {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let speed = (self.rng % 2001) as f64 / 10.0;
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or_default();
        let text: Utf8Bytes = format!(
            r#"{{"id":"{}-{}-{}","speed":{speed:.1},"timestamp":{ms}}}"#,
            self.ctx.run_id, self.idx, self.seq
        )
        .into();
        self.seq += 1;
        let measured = self.ctx.live.measuring.load(Ordering::Relaxed);
        self.pending
            .push_back((text.clone(), Instant::now(), measured));
        if self.ws.feed(Message::Text(text)).await.is_err() {
            return false;
        }
        self.ctx.stats.borrow_mut().sent += 1;
        self.ctx.live.sent.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Matches one incoming message; `Err` when the connection ended.
    fn on_message(
        &mut self,
        msg: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>,
    ) -> Result<(), String> {
        let ctx = self.ctx;
        let msg = match msg {
            None => return Err("connection ended".into()),
            Some(Err(e)) => return Err(format!("read failed: {e}")),
            Some(Ok(msg)) => msg,
        };
        let now = Instant::now();
        let mut stats = ctx.stats.borrow_mut();
        match msg {
            Message::Text(text) => {
                let is_echo = self
                    .pending
                    .front()
                    .is_some_and(|(sent, _, _)| *sent == text);
                if !is_echo && frame_type(&text).as_deref() == Some("error") {
                    let code = serde_json::from_str::<serde_json::Value>(&text)
                        .ok()
                        .and_then(|v| v.get("code").and_then(|c| c.as_str()).map(str::to_string))
                        .unwrap_or_else(|| "unparsable".into());
                    *stats.errors.entry(code).or_default() += 1;
                    ctx.live.error_frames.fetch_add(1, Ordering::Relaxed);
                    if self.pending.pop_front().is_none() {
                        stats.unexpected += 1;
                    }
                    return Ok(());
                }
                match self.pending.front() {
                    Some((sent, at, measured)) if *sent == text => {
                        let us = now.duration_since(*at).as_micros().max(1) as u64;
                        stats.latency_all_us.saturating_record(us);
                        ctx.live.max_latency_us.fetch_max(us, Ordering::Relaxed);
                        if *measured {
                            stats.latency_us.saturating_record(us);
                        }
                        stats.echoed += 1;
                        ctx.live.echoed.fetch_add(1, Ordering::Relaxed);
                        self.pending.pop_front();
                    }
                    Some(_) => {
                        stats.mismatched += 1;
                        // Realign when the text answers a later send.
                        match self.pending.iter().position(|(sent, _, _)| *sent == text) {
                            Some(k) => {
                                stats.skipped += k as u64;
                                stats.example(format!(
                                    "connection {}: echo out of order or missing, {k} send(s) skipped",
                                    self.idx
                                ));
                                self.pending.drain(..=k);
                            }
                            None => {
                                stats.example(format!(
                                    "connection {}: echo {:?} does not match {:?}",
                                    self.idx,
                                    truncate(&text),
                                    self.pending
                                        .front()
                                        .map(|(s, _, _)| truncate(s))
                                        .unwrap_or_default()
                                ));
                                self.pending.pop_front();
                            }
                        }
                    }
                    None => {
                        stats.unexpected += 1;
                        stats.example(format!(
                            "connection {}: unexpected frame {:?}",
                            self.idx,
                            truncate(&text)
                        ));
                    }
                }
            }
            Message::Ping(_) => stats.pings += 1,
            Message::Pong(_) | Message::Frame(_) => {}
            Message::Binary(_) => {
                stats.unexpected += 1;
                stats.example(format!("connection {}: unexpected binary frame", self.idx));
            }
            Message::Close(frame) => {
                let code = frame.map(|f| u16::from(f.code)).unwrap_or(1005);
                *stats.server_close_codes.entry(code).or_default() += 1;
                return Err(format!("server closed the connection with {code}"));
            }
        }
        Ok(())
    }

    fn note_drop(&self, reason: &str) -> End {
        let mut stats = self.ctx.stats.borrow_mut();
        stats.dropped += 1;
        stats.example(format!("connection {}: {reason}", self.idx));
        End::Dropped
    }

    /// Client close handshake, bounded: send 1000, read until the server's close arrives.
    async fn close(&mut self) {
        let frame = CloseFrame {
            code: CloseCode::Normal,
            reason: Utf8Bytes::from_static(""),
        };
        let closed = actix_rt::time::timeout(Duration::from_secs(5), async {
            if self.ws.close(Some(frame)).await.is_err() {
                return false;
            }
            loop {
                match self.ws.next().await {
                    Some(Ok(Message::Close(_))) => return true,
                    Some(Ok(msg @ Message::Text(_))) => {
                        // An answer that arrived during the close still counts.
                        let _ = self.on_message(Some(Ok(msg)));
                    }
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => return false,
                }
            }
        })
        .await;
        if let Ok(true) = closed {
            self.ctx.stats.borrow_mut().closed_clean += 1;
        }
    }
}

/// The `type` of a server frame (`connected`, `error`), if it is a JSON object with one.
fn frame_type(text: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    Some(value.get("type")?.as_str()?.to_string())
}

fn truncate(s: &str) -> String {
    s.chars().take(120).collect()
}

/// CPU time (user + system) this process used so far, from /proc/self/stat.
fn own_cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // Clock ticks: 100 per second on Linux.
    Some((utime + stime) / 100.0)
}

/// Echo latency percentiles in milliseconds.
struct Percentiles {
    p50: f64,
    p90: f64,
    p99: f64,
    p99_9: f64,
    max: f64,
    samples: u64,
}

impl Percentiles {
    fn of(h: &Histogram<u64>) -> Self {
        let ms = |us: u64| us as f64 / 1000.0;
        if h.is_empty() {
            return Self {
                p50: 0.0,
                p90: 0.0,
                p99: 0.0,
                p99_9: 0.0,
                max: 0.0,
                samples: 0,
            };
        }
        Self {
            p50: ms(h.value_at_quantile(0.5)),
            p90: ms(h.value_at_quantile(0.9)),
            p99: ms(h.value_at_quantile(0.99)),
            p99_9: ms(h.value_at_quantile(0.999)),
            max: ms(h.max()),
            samples: h.len(),
        }
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "p50": self.p50,
            "p90": self.p90,
            "p99": self.p99,
            "p99_9": self.p99_9,
            "max": self.max,
            "samples": self.samples,
        })
    }
}

impl std::fmt::Display for Percentiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms ({} samples)",
            self.p50, self.p90, self.p99, self.p99_9, self.max, self.samples
        )
    }
}

/// The run's rows in the database.
#[derive(Debug)]
enum DbCount {
    Rows(i64),
    Failed(String),
}

fn count_rows(url: &str, run_id: &str) -> DbCount {
    use diesel::prelude::*;
    use diesel::sql_types::{BigInt, Text};

    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }

    let result = (|| -> anyhow::Result<i64> {
        let mut conn = diesel::mysql::MysqlConnection::establish(url)
            .with_context(|| format!("connecting to {}", redact(url)))?;
        let count: Count =
            diesel::sql_query("SELECT COUNT(*) AS n FROM speed_data WHERE reading_id LIKE ?")
                .bind::<Text, _>(format!("{run_id}-%"))
                .get_result(&mut conn)
                .context("counting rows")?;
        Ok(count.n)
    })();
    match result {
        Ok(n) => DbCount::Rows(n),
        Err(e) => DbCount::Failed(format!("{e:#}")),
    }
}

/// The URL without its password.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let userinfo = &url[s + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}{user}:***{}", &url[..s + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}

struct Report<'a> {
    args: &'a Args,
    mode: Mode,
    run_id: &'a str,
    stats: &'a Stats,
    open_time: Duration,
    measure_time: Duration,
    echoed_in_period: u64,
    drain_time: Duration,
    wall: Duration,
    db: Option<&'a DbCount>,
}

impl Report<'_> {
    fn db_ok(&self) -> Option<bool> {
        self.db.map(|db| match db {
            DbCount::Rows(n) => *n >= 0 && *n as u64 == self.stats.echoed,
            DbCount::Failed(_) => false,
        })
    }

    fn passed(&self) -> bool {
        let s = self.stats;
        let hold_ok = match self.mode {
            Mode::Hold(_) => s.held == self.args.connections as u64,
            _ => true,
        };
        s.failed == 0
            && s.opened == self.args.connections as u64
            && s.dropped == 0
            && s.mismatched == 0
            && s.skipped == 0
            && s.unexpected == 0
            && s.unanswered == 0
            && s.error_frames() == 0
            && hold_ok
            && self.db_ok().unwrap_or(true)
    }

    fn echoes_per_sec(&self) -> f64 {
        let secs = self.measure_time.as_secs_f64();
        if secs > 0.0 {
            self.echoed_in_period as f64 / secs
        } else {
            0.0
        }
    }

    fn print(&self) {
        let s = self.stats;
        let steady = Percentiles::of(&s.latency_us);
        let all = Percentiles::of(&s.latency_all_us);
        let lag = Percentiles::of(&s.send_lag_us);
        println!("--- speedometer-load summary (run {}) ---", self.run_id);
        println!(
            "connections  opened {} / {}, failed {}, dropped {}, closed cleanly {} (all open after {:.2} s)",
            s.opened,
            self.args.connections,
            s.failed,
            s.dropped,
            s.closed_clean,
            self.open_time.as_secs_f64()
        );
        if let Mode::Hold(secs) = self.mode {
            println!(
                "hold         {} of {} connections still open after {secs} s idle ({} pings answered)",
                s.held, self.args.connections, s.pings
            );
        } else {
            println!(
                "readings     sent {}, echoed {}, error frames {}, mismatched {}, skipped {}, unexpected {}, unanswered {}",
                s.sent,
                s.echoed,
                s.error_frames(),
                s.mismatched,
                s.skipped,
                s.unexpected,
                s.unanswered
            );
            if !s.errors.is_empty() {
                let by_code: Vec<String> =
                    s.errors.iter().map(|(c, n)| format!("{c}={n}")).collect();
                println!("error codes  {}", by_code.join(", "));
            }
            println!(
                "throughput   {:.0} echoes/s over the {:.1} s measuring period ({} echoes)",
                self.echoes_per_sec(),
                self.measure_time.as_secs_f64(),
                self.echoed_in_period
            );
            println!("latency      {steady} (sent in the measuring period)");
            println!("latency all  {all} (every reading, ramp-up included)");
            if let Mode::Rate(_) = self.mode {
                println!(
                    "send lag     {lag} (sends late against schedule: the generator's own delay)"
                );
            }
            println!(
                "drain        {:.2} s; server pings answered {}",
                self.drain_time.as_secs_f64(),
                s.pings
            );
        }
        if !s.server_close_codes.is_empty() {
            let codes: Vec<String> = s
                .server_close_codes
                .iter()
                .map(|(c, n)| format!("{c}×{n}"))
                .collect();
            println!("server close {}", codes.join(", "));
        }
        match self.db {
            Some(DbCount::Rows(n)) => {
                let n = (*n).max(0) as u64;
                let verdict = if self.db_ok() == Some(true) {
                    "OK: rows = echoes".to_string()
                } else if n >= s.echoed && n <= s.sent {
                    // Unanswered readings may well be stored: the client stopped waiting.
                    format!(
                        "MISMATCH: every echoed reading can be stored, plus {} of the {} sent without an echo",
                        n - s.echoed,
                        s.sent - s.echoed
                    )
                } else {
                    "MISMATCH".to_string()
                };
                println!(
                    "database     {n} rows with reading_id LIKE '{}-%' for {} echoes of {} sent: {verdict}",
                    self.run_id, s.echoed, s.sent
                );
            }
            Some(DbCount::Failed(e)) => println!("database     check failed: {e}"),
            None => {}
        }
        for e in &s.examples {
            println!("problem      {e}");
        }
        println!(
            "verdict      {} (wall time {:.1} s, load generator CPU {:.1} s)",
            if self.passed() { "PASS" } else { "FAIL" },
            self.wall.as_secs_f64(),
            own_cpu_secs().unwrap_or_default()
        );

        let mode = match self.mode {
            Mode::Rate(_) => "rate",
            Mode::Window(_) => "window",
            Mode::Hold(_) => "hold",
        };
        let (db_rows, db_error) = match self.db {
            Some(DbCount::Rows(n)) => (serde_json::json!(n), serde_json::Value::Null),
            Some(DbCount::Failed(e)) => (serde_json::Value::Null, serde_json::json!(e)),
            None => (serde_json::Value::Null, serde_json::Value::Null),
        };
        let json = serde_json::json!({
            "run_id": self.run_id,
            "mode": mode,
            "connections": self.args.connections,
            "rate": self.args.rate,
            "window": self.args.window,
            "hold_secs": self.args.hold,
            "threads": self.args.threads,
            "source_addrs": self.args.source_addrs,
            "opened": s.opened,
            "failed": s.failed,
            "dropped": s.dropped,
            "closed_clean": s.closed_clean,
            "held_open": s.held,
            "open_secs": self.open_time.as_secs_f64(),
            "sent": s.sent,
            "echoed": s.echoed,
            "error_frames": s.error_frames(),
            "errors": s.errors,
            "mismatched": s.mismatched,
            "skipped": s.skipped,
            "unexpected": s.unexpected,
            "unanswered": s.unanswered,
            "pings": s.pings,
            "measure_secs": self.measure_time.as_secs_f64(),
            "echoed_in_period": self.echoed_in_period,
            "echoes_per_sec": self.echoes_per_sec(),
            "latency_ms": steady.json(),
            "latency_all_ms": all.json(),
            "send_lag_ms": lag.json(),
            "cpu_secs": own_cpu_secs(),
            "db_rows": db_rows,
            "db_error": db_error,
            "db_ok": self.db_ok(),
            "passed": self.passed(),
            "wall_secs": self.wall.as_secs_f64(),
        });
        println!("RESULT {json}");
    }
}
