// The live dashboard. Polls the JSON API once a second and redraws: no framework, no build step;
// Chart.js is loaded as a classic script before this module (window.Chart).
const POLL_MS = 1000;
const FEED_POLL_MS = 2000;
const HISTORY_MS = 120_000;
const startedAt = Date.now();
const TRENDING_SHOWN = 10;

// ---- auth: `?token=` once, then kept for the tab and taken out of the address bar (screenshots, history)
const params = new URLSearchParams(location.search);
let token = sessionStorage.getItem('darkroom-token') ?? '';
if (params.has('token')) {
  token = params.get('token') ?? '';
  sessionStorage.setItem('darkroom-token', token);
  params.delete('token');
  const rest = params.toString();
  history.replaceState(null, '', `${location.pathname}${rest ? `?${rest}` : ''}${location.hash}`);
}

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(path) {
  const response = await fetch(path, { cache: 'no-store', headers: token ? { authorization: `Bearer ${token}` } : {} });
  if (!response.ok) {
    let message = response.statusText;
    try { message = (await response.json()).error?.message ?? message; } catch { /* not JSON */ }
    throw new ApiError(response.status, message);
  }
  return response.json();
}

// ---- formatting
const $ = (id) => document.getElementById(id);
const numberFormat = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });
const fmt = (n) => (n === null || n === undefined ? '–' : numberFormat.format(n));
const fmtMs = (ms) => (ms === null || ms === undefined ? '–' : ms >= 10_000 ? `${numberFormat.format(ms / 1000)} s` : `${Math.round(ms)} ms`);
function ago(ts) {
  const s = Math.max(0, Math.round((Date.now() - ts) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86_400)}d ago`;
}
function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props);
  for (const child of children) node.append(child);
  return node;
}

// ---- colors: one per topic / processor, stable across reloads
const PALETTE = ['#ff453a', '#ffb340', '#32d583', '#64d2ff', '#bf5af2', '#ff9f0a', '#5e5ce6', '#ff6482', '#a2845e', '#66d4cf'];
const colorOf = (() => {
  const known = new Map();
  return (name) => {
    if (!known.has(name)) known.set(name, PALETTE[known.size % PALETTE.length]);
    return known.get(name);
  };
})();
const hashColor = (text) => {
  let h = 0;
  for (const ch of text) h = (h * 31 + ch.codePointAt(0)) >>> 0;
  return `hsl(${h % 360} 70% 68%)`;
};

// ---- charts
const Chart = window.Chart;
Chart.defaults.color = '#8d8a85';
Chart.defaults.borderColor = '#24242b';
Chart.defaults.font.family = getComputedStyle(document.documentElement).fontFamily;

function timeSeriesChart(canvas, yTitle, yFormat, stacked = false) {
  return new Chart(canvas, {
    type: 'line',
    data: { datasets: [] },
    options: {
      maintainAspectRatio: false,
      animation: false,
      parsing: false,
      normalized: true,
      interaction: { mode: 'nearest', axis: 'x', intersect: false },
      elements: { point: { radius: 0, hitRadius: 6 }, line: { borderWidth: 2, tension: 0.3 } },
      scales: {
        x: {
          type: 'linear',
          ticks: { maxTicksLimit: 9, callback: (v) => { const s = Math.round((v - Date.now()) / 1000); return s >= 0 ? 'now' : `${s}s`; } },
          grid: { display: false },
        },
        y: { beginAtZero: true, stacked, title: { display: true, text: yTitle }, ticks: { callback: yFormat } },
      },
      plugins: {
        legend: { position: 'bottom', labels: { boxWidth: 10, boxHeight: 10, usePointStyle: true } },
        tooltip: { callbacks: { title: () => '', label: (ctx) => `${ctx.dataset.label}: ${yFormat(ctx.parsed.y)}` } },
      },
    },
  });
}

/** Appends one point per series, drops points older than the window, slides the x axis to now. */
function pushPoints(chart, now, values, style = () => ({})) {
  for (const [label, y] of Object.entries(values)) {
    if (y === null || y === undefined) continue;
    let dataset = chart.data.datasets.find((d) => d.label === label);
    if (!dataset) {
      dataset = { label, data: [], borderColor: colorOf(label), backgroundColor: colorOf(label), ...style(label) };
      chart.data.datasets.push(dataset);
    }
    dataset.data.push({ x: now, y });
  }
  for (const dataset of chart.data.datasets) {
    while (dataset.data.length && dataset.data[0].x < now - HISTORY_MS) dataset.data.shift();
  }
  // The window grows from the page's first sample up to two minutes, so a fresh page is not empty.
  chart.options.scales.x.min = Math.max(now - HISTORY_MS, Math.min(startedAt, now - 10_000));
  chart.options.scales.x.max = now;
  chart.update('none');
}

// Source topics are stacked areas (their top edge is the headline events/s); the runtime's internal
// topics are dashed lines on their own, since stacking them would count an action twice.
const rateChart = timeSeriesChart($('chart-rate'), 'events / s', (v) => fmt(v), true);
const rateStyle = (kind) => (name) => (kind(name) === 'internal'
  ? { borderDash: [5, 4], borderWidth: 1.5, stack: `internal:${name}`, fill: false }
  : { stack: 'source', fill: 'stack', backgroundColor: `${colorOf(name)}38` });
const latencyChart = timeSeriesChart($('chart-latency'), 'ms', (v) => fmtMs(v));

const trendingChart = new Chart($('chart-trending'), {
  type: 'bar',
  data: { labels: [], datasets: [{ label: 'score', data: [], borderRadius: 4, backgroundColor: [] }] },
  options: {
    indexAxis: 'y',
    maintainAspectRatio: false,
    // Bars glide to their new length and rank: the chart moves as the trend does.
    animation: { duration: 800, easing: 'easeOutCubic' },
    scales: {
      x: { beginAtZero: true, grid: { color: '#1f1f26' } },
      y: { grid: { display: false }, ticks: { color: '#e9e6e1', font: { size: 13 } } },
    },
    plugins: {
      legend: { display: false },
      tooltip: { callbacks: { label: (ctx) => { const t = ctx.raw; return `score ${fmt(t)}${trendingUses[ctx.dataIndex] !== undefined ? ` · ${fmt(trendingUses[ctx.dataIndex])} uses in the last hour` : ''}`; } } },
    },
  },
});
let trendingUses = [];

// ---- the read API's answers, taken as they come (the shapes are those of serving/read/)
function trendingItems(body) {
  const list = Array.isArray(body) ? body : (body.hashtags ?? body.trending ?? body.items ?? Object.values(body).find(Array.isArray) ?? []);
  return list.map((x) => (typeof x === 'string' ? { tag: x, score: 1 } : {
    tag: x.tag ?? x.hashtag ?? x.name,
    score: Number(x.score ?? x.velocity ?? x.uses_1h ?? x.uses ?? 0),
    uses: x.uses_1h ?? x.uses,
  })).filter((x) => typeof x.tag === 'string');
}

function feedItems(body) {
  return Array.isArray(body) ? body : (body.items ?? body.posts ?? body.feed ?? []);
}

// ---- rendering
function renderKpis(stats, status) {
  const rate = stats?.events_per_sec ?? null;
  $('kpi-rate').textContent = fmt(rate);
  $('kpi-rate').dataset.value = rate ?? '';
  if (status) {
    $('kpi-lag').textContent = fmt(status.lag);
    $('kpi-lag').className = `value ${status.lag === 0 ? 'good' : status.lag < 1000 ? 'warn' : 'bad'}`;
  }
  if (stats) {
    const worst = Object.entries(stats.latency).filter(([, l]) => l.p95_ms !== null).sort((a, b) => b[1].p95_ms - a[1].p95_ms)[0];
    $('kpi-latency').textContent = worst ? fmtMs(worst[1].p95_ms) : '–';
    $('kpi-latency').className = `value ${!worst ? '' : worst[1].p95_ms < 1000 ? 'good' : worst[1].p95_ms < 5000 ? 'warn' : 'bad'}`;
    $('kpi-latency-hint').textContent = worst ? `slowest: ${worst[0]}, last ${stats.latency_window_ms / 1000} s` : 'waiting for new events';
    const total = Object.values(stats.topics).filter((t) => t.kind === 'source').reduce((sum, t) => sum + t.total, 0);
    $('kpi-total').textContent = fmt(total);
    $('tick-ms').textContent = stats.tick_ms;
  }
}

function renderEngines(status) {
  const engines = status?.engines;
  if (!engines) return;
  const box = $('engines');
  box.replaceChildren(...Object.entries(engines).filter(([, v]) => v).map(([k, v]) => el('span', {}, `${k.replace('_', ' ')} `, el('b', { textContent: v }))));
}

function renderProcessors(status, stats) {
  const rows = Object.entries(status?.processors ?? {});
  const maxLag = Math.max(1, ...rows.map(([, p]) => p.lag));
  $('processors').replaceChildren(...rows.map(([name, p]) => {
    const latency = stats?.latency?.[name];
    const state = p.last_error ? 'error' : p.restoring ? 'restoring' : 'live';
    const lagCell = el('td', { className: 'num' });
    if (p.lag > 0) lagCell.append(el('span', { className: 'lagbar', style: `width:${Math.max(4, Math.round(60 * p.lag / maxLag))}px` }));
    lagCell.append(fmt(p.lag));
    return el('tr', {},
      el('td', { className: 'name' }, el('span', { style: `color:${colorOf(name)}` }, '● '), name),
      el('td', {}, el('span', { className: `state ${state}`, title: p.last_error ?? '', textContent: state })),
      lagCell,
      el('td', { className: 'num', textContent: fmtMs(latency?.mean_ms) }),
      el('td', { className: 'num', textContent: fmtMs(latency?.p95_ms) }),
      el('td', { className: 'num', textContent: fmt(p.events ?? null) }));
  }));
}

function renderTrending(body) {
  const items = trendingItems(body).sort((a, b) => b.score - a.score).slice(0, TRENDING_SHOWN);
  trendingUses = items.map((t) => t.uses);
  trendingChart.data.labels = items.map((t) => `#${t.tag}`);
  trendingChart.data.datasets[0].data = items.map((t) => t.score);
  trendingChart.data.datasets[0].backgroundColor = items.map((t) => hashColor(t.tag));
  trendingChart.update();
  $('trending-empty').hidden = items.length > 0;
  $('trending-empty').textContent = 'no hashtags trending yet';
}

function renderCaption(text) {
  const box = el('div', { className: 'caption' });
  for (const part of String(text ?? '').split(/(#[\p{L}\p{M}\p{N}_]+)/u)) {
    box.append(part.startsWith('#') ? el('span', { className: 'tag', textContent: part }) : part);
  }
  return box;
}

let shownFeed = new Set();
function renderFeed(body) {
  const items = feedItems(body);
  const list = $('feed');
  list.replaceChildren(...items.slice(0, 20).map((post) => {
    const author = String(post.author_id ?? '?');
    const li = el('li', {},
      el('div', { className: 'avatar', style: `background:${hashColor(author)}`, textContent: author.slice(0, 4) }),
      el('div', {},
        el('div', { className: 'who' }, author, el('span', { className: 'media', textContent: post.media_type ?? '' })),
        renderCaption(post.caption)),
      el('div', { className: 'when', textContent: post.created_at ? ago(post.created_at) : '' }));
    // Only new posts get the "developing" animation; the ones already on screen stay still.
    if (shownFeed.has(post.post_id)) li.style.animation = 'none';
    return li;
  }));
  shownFeed = new Set(items.map((p) => p.post_id));
  $('feed-empty').hidden = items.length > 0;
  $('feed-empty').textContent = 'this feed is empty (the user follows no one who posted yet)';
}

function showBanner(message) {
  $('banner').hidden = !message;
  $('banner').textContent = message ?? '';
}

function authMessage(error) {
  return error?.status === 401
    ? (token ? 'The token given is wrong: open this page as /?token=<DARKROOM_API_TOKEN>.' : 'This server needs its API token: open this page as /?token=<DARKROOM_API_TOKEN>.')
    : undefined;
}

// ---- polling
async function poll() {
  const [status, stats, trending] = await Promise.allSettled([api('/v1/status'), api('/v1/dashboard/stats'), api('/v1/hashtags/trending?limit=20')]);
  const now = Date.now();
  const failed = [status, stats].find((r) => r.status === 'rejected');
  showBanner(failed ? (authMessage(failed.reason) ?? `cannot reach the server: ${failed.reason.message}`) : undefined);
  const s = status.status === 'fulfilled' ? status.value : undefined;
  const d = stats.status === 'fulfilled' ? stats.value : undefined;
  renderKpis(d, s);
  renderEngines(s);
  renderProcessors(s, d);
  if (d) {
    const rates = Object.fromEntries(Object.entries(d.topics).filter(([, t]) => t.kind === 'source' || t.events_per_sec > 0).map(([name, t]) => [name, t.events_per_sec]));
    pushPoints(rateChart, now, rates, rateStyle((name) => d.topics[name]?.kind));
    pushPoints(latencyChart, now, Object.fromEntries(Object.entries(d.latency).map(([name, l]) => [name, l.p95_ms])));
  }
  if (trending.status === 'fulfilled') renderTrending(trending.value);
  else {
    $('trending-empty').hidden = false;
    $('trending-empty').textContent = trending.reason.status === 404 && trending.reason.message.startsWith('no route') ? 'the trending API is not served by this process' : `trending: ${trending.reason.message}`;
  }
  $('updated').textContent = d?.sampled_at ? `updated ${new Date(d.sampled_at).toLocaleTimeString()}` : 'waiting for the first sample…';
  $('live-dot').classList.toggle('dim');
}

let feedUser = params.get('user') ?? localStorage.getItem('darkroom-feed-user') ?? 'u1';
$('feed-user').value = feedUser;
async function pollFeed() {
  if (!feedUser) {
    $('feed').replaceChildren();
    $('feed-empty').hidden = false;
    $('feed-empty').textContent = 'type a user id to follow their feed live';
    return;
  }
  try {
    renderFeed(await api(`/v1/users/${encodeURIComponent(feedUser)}/feed?limit=20`));
  } catch (error) {
    $('feed').replaceChildren();
    $('feed-empty').hidden = false;
    $('feed-empty').textContent = error.status === 404 && error.message.startsWith('no route') ? 'the feed API is not served by this process' : `feed: ${error.message}`;
  }
}
let feedTimer;
$('feed-user').addEventListener('input', () => {
  clearTimeout(feedTimer);
  feedTimer = setTimeout(() => {
    feedUser = $('feed-user').value.trim();
    localStorage.setItem('darkroom-feed-user', feedUser);
    shownFeed = new Set();
    void pollFeed();
  }, 300);
});
$('feed-form').addEventListener('submit', (event) => event.preventDefault());

function every(ms, work) {
  const run = async () => {
    try { await work(); } catch (error) { console.error(error); }
    setTimeout(run, ms);
  };
  void run();
}
every(POLL_MS, poll);
every(FEED_POLL_MS, pollFeed);

// For the browser test and for curious people in the console.
window.darkroomDashboard = { rateChart, latencyChart, trendingChart };
