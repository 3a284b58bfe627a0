"""Resumable, validating, polite bulk video downloader (the library behind
``tools/data/download_videos.py``).

What makes a download count (and what happens otherwise):

* HTTP status 200 after redirects; 403/404/410 and other 4xx fail at once
  (never retried); 408/429/5xx, timeouts, dropped connections and
  truncated bodies are retried with exponential backoff and full jitter, a
  429 (or 503) honouring ``Retry-After`` for its whole host;
* a content type that is not an error page (``text/*``, JSON, XML fail);
* the body as long as ``Content-Length`` says;
* the file opens as a video (decord) and its first and last frames decode.

Only then is the temporary file (under ``OUT_ROOT/.download_tmp/``, same
filesystem) renamed to its final name, so a final name never holds a
partial or invalid file, even after ``kill -9``. Files already present (and
opening as a video) are skipped; every failure is appended to a JSONL
ledger with its reason, and later runs skip ledgered rows unless asked to
retry them (``retry_failed``: only the ledger's rows, the ledger then
rewritten with what still fails).

Concurrency: one asyncio loop with ``connections`` workers pulling tasks
from a bounded queue (memory stays flat whatever the CSV's length), a
per-host concurrency limit and an optional per-host request rate.
Validation (and optional re-encoding) runs in a thread pool: decord and
PyAV release the GIL while decoding.
"""
import asyncio
import csv
import email.utils
import json
import os
import os.path as osp
import random
import shutil
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterator, List, Optional, Tuple
from urllib.parse import urlsplit

WEBVID_TEMPLATE = '{page_dir}/{videoid}.mp4'
WEBVID_URL_COLUMN = 'contentUrl'
# status codes worth another try; everything else that is not 200 is final
RETRY_STATUS = {408, 425, 429, 500, 502, 503, 504}
BAD_CONTENT_TYPES = ('text/', 'application/json', 'application/xml',
                     'application/xhtml')
TMP_DIR = '.download_tmp'


class AnnotationError(ValueError):
    """A malformed input row; the message names the file and the row."""


# --------------------------------------------------------------------------
# input rows
# --------------------------------------------------------------------------
@dataclass
class Task:
    """One download: CSV line number, URL, path relative to the output."""
    row: int
    url: str
    path: str


def read_tasks(ann: str, fmt: str = 'auto',
               template: str = WEBVID_TEMPLATE,
               part: int = 0, num_parts: int = 1) -> Iterator[Task]:
    """Stream the rows of ``ann`` that belong to part ``part`` of
    ``num_parts`` (row ``r`` to part ``r % num_parts``, counted over data
    rows).

    Formats: ``webvid`` (columns ``contentUrl`` and those of ``template``,
    e.g. WebVid's ``videoid,contentUrl,duration,page_dir,name``) and
    ``urls`` (columns ``url,path``). ``auto`` picks by the header.
    Raises :class:`AnnotationError` naming the file and line for a bad row.
    """
    with open(ann, newline='', encoding='utf-8') as f:
        reader = csv.reader(f)
        header = [h.strip() for h in next(reader, None) or []]
        if not header:
            raise AnnotationError(f'{ann}: the file is empty')
        fmt = detect_format(ann, header) if fmt == 'auto' else fmt
        col = {name: i for i, name in enumerate(header)}
        if fmt == 'webvid':
            fields = template_fields(template)
            url_col = WEBVID_URL_COLUMN
        elif fmt == 'urls':
            fields, url_col = ['path'], 'url'
        else:
            raise ValueError(f'unknown format {fmt!r} (webvid, urls, auto)')
        missing = [c for c in [url_col] + fields if c not in col]
        if missing:
            raise AnnotationError(
                f'{ann}: missing column(s) {missing} for the {fmt} format; '
                f'header is {header}')
        for n, row in enumerate(reader):
            line = n + 2
            if n % num_parts != part:
                continue
            if len(row) != len(header):
                raise AnnotationError(f'{ann}: row {line}: expected '
                                      f'{len(header)} fields, got {len(row)}')
            url = row[col[url_col]].strip()
            if fmt == 'webvid':
                values = {k: row[col[k]].strip() for k in fields}
                empty = [k for k, v in values.items() if not v]
                if empty:
                    raise AnnotationError(
                        f'{ann}: row {line}: empty {empty}')
                path = template.format(**values)
            else:
                path = row[col['path']].strip()
            yield Task(line, url, check_relative(path, ann, line, url))


def detect_format(ann: str, header: List[str]) -> str:
    if WEBVID_URL_COLUMN in header:
        return 'webvid'
    if {'url', 'path'} <= set(header):
        return 'urls'
    raise AnnotationError(
        f'{ann}: cannot tell the format from the header {header}: expected '
        'WebVid columns (videoid,contentUrl,duration,page_dir,name) or '
        'url,path')


def template_fields(template: str) -> List[str]:
    import string
    return [name for _, name, _, _ in string.Formatter().parse(template)
            if name]


def check_relative(path: str, ann: str, line: int, url: str) -> str:
    """Refuse paths that would write outside the output folder."""
    if not url:
        raise AnnotationError(f'{ann}: row {line}: empty URL')
    if not urlsplit(url).scheme.startswith('http'):
        raise AnnotationError(f'{ann}: row {line}: not an http(s) URL: '
                              f'{url!r}')
    norm = osp.normpath(path)
    if not path or osp.isabs(path) or norm.startswith('..') or \
            norm.split(os.sep)[0] == TMP_DIR:
        raise AnnotationError(
            f'{ann}: row {line}: the video path {path!r} must be relative '
            'and stay inside the output folder')
    return norm


def part_from_env(part: Optional[int],
                  num_parts: Optional[int]) -> Tuple[int, int]:
    """``--part/--num-parts`` if given, else torchrun's RANK/WORLD_SIZE or
    Slurm's SLURM_PROCID/SLURM_NTASKS, else ``(0, 1)``."""
    if part is None and num_parts is None:
        for rank, world in (('RANK', 'WORLD_SIZE'),
                            ('SLURM_PROCID', 'SLURM_NTASKS')):
            if rank in os.environ and world in os.environ:
                part, num_parts = int(os.environ[rank]), int(
                    os.environ[world])
                break
    part, num_parts = int(part or 0), int(num_parts or 1)
    if not 0 <= part < num_parts:
        raise ValueError(f'part {part} is not in [0, {num_parts})')
    return part, num_parts


# --------------------------------------------------------------------------
# the failure ledger
# --------------------------------------------------------------------------
class Ledger:
    """JSONL file of failures, one object per line: ``row``, ``url``,
    ``path``, ``reason``, ``status`` (HTTP code or null), ``attempts``,
    ``time``. Appends are flushed per line; a line cut by a kill is
    ignored when reading."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._file = None

    def load(self) -> Dict[str, dict]:
        """Failures by video path (the last entry of a path wins)."""
        entries: Dict[str, dict] = {}
        if not osp.exists(self.path):
            return entries
        with open(self.path, encoding='utf-8') as f:
            for line in f:
                try:
                    entry = json.loads(line)
                    entries[entry['path']] = entry
                except (ValueError, KeyError, TypeError):
                    continue  # a line cut by a kill
        return entries

    def open(self, target: Optional[str] = None) -> None:
        os.makedirs(osp.dirname(osp.abspath(self.path)), exist_ok=True)
        self._file = open(target or self.path, 'a', encoding='utf-8')

    def append(self, entry: dict) -> None:
        self._file.write(json.dumps(entry, ensure_ascii=False) + '\n')
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


# --------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------
def probe_video(path: str, level: str = 'frames') -> Optional[str]:
    """None if ``path`` is a usable video, else the reason. ``level``:
    ``'open'`` (the container opens and reports frames), ``'frames'``
    (also decodes the first and last frame: catches a cut-off file whose
    header is intact), ``'none'``."""
    if level == 'none':
        return None
    try:
        if os.path.getsize(path) == 0:
            return 'empty file'
        import decord
        reader = decord.VideoReader(path, num_threads=1)
        length = len(reader)
        if length < 1:
            return 'invalid video: no frames'
        if level == 'frames':
            for index in sorted({0, length - 1}):
                reader.get_batch([index]).asnumpy()
    except Exception as exc:  # noqa: BLE001 - any failure means invalid
        text = ' '.join(str(exc).split())[:120]
        return f'invalid video ({type(exc).__name__}: {text})'
    return None


def quiet_decoders() -> None:
    """FFmpeg logs every broken file to stderr: keep the progress bar
    readable (the reason goes to the ledger)."""
    try:
        import decord
        decord.logging.set_level(decord.logging.QUIET)
    except Exception:  # noqa: BLE001 - cosmetic
        pass


# --------------------------------------------------------------------------
# per-host limits
# --------------------------------------------------------------------------
class HostLimiter:
    """At most ``concurrency`` requests in flight to one host, at most
    ``rate`` request starts per second (0: unlimited), and a pause for the
    whole host after a 429/503 with ``Retry-After``."""

    def __init__(self, concurrency: int, rate: float = 0.0) -> None:
        self.semaphore = asyncio.Semaphore(concurrency)
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.next_start = 0.0
        self.paused_until = 0.0

    async def acquire(self) -> None:
        await self.semaphore.acquire()
        loop = asyncio.get_running_loop()
        while True:
            now = loop.time()
            start = max(now, self.next_start, self.paused_until)
            if start <= now:
                break
            await asyncio.sleep(start - now)
        self.next_start = max(now, self.next_start) + self.interval

    def release(self) -> None:
        self.semaphore.release()

    def pause(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        self.paused_until = max(self.paused_until, loop.time() + seconds)


def retry_after_seconds(value: Optional[str]) -> Optional[float]:
    """``Retry-After``: delta seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


# --------------------------------------------------------------------------
# the downloader
# --------------------------------------------------------------------------
@dataclass
class Options:
    """Every knob of :class:`Downloader` (the CLI flags, 1:1)."""
    connections: int = 32
    per_host: int = 16
    rate_limit: float = 0.0
    retries: int = 5
    backoff: float = 1.0
    max_backoff: float = 60.0
    max_retry_after: float = 600.0
    timeout: float = 300.0
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    max_bytes: int = 0
    validate: str = 'frames'
    check_existing: str = 'open'
    workers: int = max(1, os.cpu_count() or 1)
    reencode: Optional[dict] = None  # kwargs of simvtp.utils.video_encoding.reencode
    user_agent: str = 'simvtp-downloader/1.0'


@dataclass
class Summary:
    ok: int = 0
    present: int = 0
    skipped_failed: int = 0
    failed: Counter = field(default_factory=Counter)
    retries: int = 0
    bytes: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return dict(ok=self.ok, present=self.present,
                    skipped_failed=self.skipped_failed,
                    failed=sum(self.failed.values()),
                    failed_by_reason=dict(self.failed), retries=self.retries,
                    bytes=self.bytes, seconds=round(self.seconds, 3),
                    files_per_s=round(self.ok / self.seconds, 2)
                    if self.seconds else 0.0)

    def report(self) -> str:
        d = self.as_dict()
        lines = [f'downloaded {d["ok"]} ({d["bytes"] / 1e6:.1f} MB in '
                 f'{d["seconds"]:.1f} s: {d["files_per_s"]} files/s, '
                 f'{d["bytes"] / 1e6 / max(d["seconds"], 1e-9):.2f} MB/s), '
                 f'{d["present"]} already present, {d["skipped_failed"]} '
                 f'skipped (failed before; --retry-failed retries them), '
                 f'{d["failed"]} failed, {d["retries"]} retries']
        for reason, count in self.failed.most_common():
            lines.append(f'  {count:8d}  {reason}')
        return '\n'.join(lines)


class _Failure(Exception):
    def __init__(self, reason: str, retry: bool, status: Optional[int] = None,
                 wait: Optional[float] = None) -> None:
        super().__init__(reason)
        self.reason, self.retry, self.status, self.wait = (reason, retry,
                                                           status, wait)


class Downloader:
    """Download tasks into ``out_root``; see the module docstring.

    Args:
        out_root: output folder; task paths are relative to it.
        ledger: the failure ledger's path.
        options: :class:`Options`.
        progress: a callable taking the number of finished tasks (e.g. a
            tqdm bar's ``update``), or None.
        temp_name: the temporary folder's name under ``OUT_ROOT/.download_tmp``
            (one per part, so parts on a shared filesystem never collide).
    """

    def __init__(self, out_root: str, ledger: str, options: Options,
                 progress: Optional[Callable[[int], None]] = None,
                 temp_name: str = 'part-0') -> None:
        self.out_root = out_root
        self.ledger = Ledger(ledger)
        self.opt = options
        self.progress = progress
        self.tmp_dir = osp.join(out_root, TMP_DIR, temp_name)
        self.summary = Summary()
        self._hosts: Dict[str, HostLimiter] = {}
        self._counter = 0

    # ----------------------------------------------------------- public
    def run(self, tasks: Iterator[Task], retry_failed: bool = False
            ) -> Summary:
        """Download ``tasks`` (an iterator: rows are streamed). With
        ``retry_failed`` only the ledger's rows among ``tasks`` are tried,
        and the ledger is replaced by what still fails."""
        import aiohttp  # noqa: F401 - fail before touching anything
        quiet_decoders()
        shutil.rmtree(self.tmp_dir, ignore_errors=True)  # a killed run's
        os.makedirs(self.tmp_dir, exist_ok=True)
        failed_before = self.ledger.load()
        new_ledger = self.ledger.path + '.retry' if retry_failed else None
        if new_ledger and osp.exists(new_ledger):
            os.remove(new_ledger)
        self.ledger.open(new_ledger)
        start = time.perf_counter()
        try:
            asyncio.run(self._run(tasks, failed_before, retry_failed))
        finally:
            self.ledger.close()
            self.summary.seconds = time.perf_counter() - start
            shutil.rmtree(self.tmp_dir, ignore_errors=True)
            try:  # the parent too, unless another part still uses it
                os.rmdir(osp.dirname(self.tmp_dir))
            except OSError:
                pass
        if new_ledger:  # only after a complete retry pass
            os.replace(new_ledger, self.ledger.path)
        return self.summary

    # ---------------------------------------------------------- the loop
    async def _run(self, tasks: Iterator[Task], failed_before: Dict,
                   retry_failed: bool) -> None:
        import aiohttp
        opt = self.opt
        self._pool = ThreadPoolExecutor(max(1, opt.workers))
        queue: asyncio.Queue = asyncio.Queue(maxsize=opt.connections * 4)
        timeout = aiohttp.ClientTimeout(total=opt.timeout,
                                        sock_connect=opt.connect_timeout,
                                        sock_read=opt.read_timeout)
        connector = aiohttp.TCPConnector(limit=opt.connections,
                                         limit_per_host=0, ttl_dns_cache=300)
        # identity: a compressed body would not match Content-Length checks
        headers = {'User-Agent': opt.user_agent,
                   'Accept-Encoding': 'identity'}
        try:
            async with aiohttp.ClientSession(
                    timeout=timeout, connector=connector, headers=headers,
                    auto_decompress=False) as session:
                workers = [asyncio.create_task(self._worker(session, queue))
                           for _ in range(opt.connections)]
                for task in tasks:
                    if retry_failed != (task.path in failed_before):
                        if not retry_failed:
                            self.summary.skipped_failed += 1
                            self._advance()
                        continue
                    await queue.put(task)
                for _ in workers:
                    await queue.put(None)
                await asyncio.gather(*workers)
        finally:
            self._pool.shutdown(wait=True)

    async def _worker(self, session, queue: asyncio.Queue) -> None:
        while True:
            task = await queue.get()
            if task is None:
                return
            try:
                await self._one(session, task)
            finally:
                self._advance()

    def _advance(self) -> None:
        if self.progress is not None:
            self.progress(1)

    async def _in_pool(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(
            self._pool, fn, *args)

    # ------------------------------------------------------ one download
    async def _one(self, session, task: Task) -> None:
        final = osp.join(self.out_root, task.path)
        if osp.exists(final) and await self._in_pool(self._present, final):
            self.summary.present += 1
            return
        self._counter += 1
        tmp = osp.join(self.tmp_dir, f'{self._counter}.mp4')
        attempt = 0
        while True:
            attempt += 1
            try:
                size = await self._fetch(session, task.url, tmp)
                reason = await self._in_pool(probe_video, tmp,
                                             self.opt.validate)
                if reason is not None:
                    raise _Failure(reason.replace(tmp, task.path),
                                   retry=False, status=200)
                if self.opt.reencode:
                    size = await self._in_pool(self._reencode, tmp)
                os.makedirs(osp.dirname(final) or '.', exist_ok=True)
                os.replace(tmp, final)
                self.summary.ok += 1
                self.summary.bytes += size
                return
            except _Failure as failure:
                _remove(tmp)
                if not failure.retry or attempt > self.opt.retries:
                    self._fail(task, failure, attempt)
                    return
                self.summary.retries += 1
                await asyncio.sleep(self._delay(attempt, failure.wait))

    def _present(self, path: str) -> bool:
        """An existing file counts as done if it is non-empty (and, with
        ``check_existing='open'``, opens as a video)."""
        try:
            if os.path.getsize(path) == 0:
                return False
        except OSError:
            return False
        if self.opt.check_existing == 'open':
            return probe_video(path, 'open') is None
        return True

    def _delay(self, attempt: int, wait: Optional[float]) -> float:
        """Full-jitter exponential backoff, at least ``wait``
        (Retry-After)."""
        cap = min(self.opt.max_backoff,
                  self.opt.backoff * 2 ** (attempt - 1))
        delay = random.uniform(0, cap)
        return max(delay, wait or 0.0)

    async def _fetch(self, session, url: str, tmp: str) -> int:
        """GET ``url`` into ``tmp``; raises :class:`_Failure`."""
        import aiohttp
        host = self._host(url)
        await host.acquire()
        try:
            async with session.get(url, allow_redirects=True,
                                   max_redirects=10) as resp:
                status = resp.status
                if status != 200:
                    wait = retry_after_seconds(
                        resp.headers.get('Retry-After'))
                    if wait is not None and status in (429, 503):
                        if wait > self.opt.max_retry_after:
                            raise _Failure(
                                f'HTTP {status} (Retry-After {wait:.0f} s > '
                                f'--max-retry-after)', False, status)
                        host.pause(wait)
                    raise _Failure(f'HTTP {status}', status in RETRY_STATUS,
                                   status, wait)
                ctype = resp.headers.get('Content-Type', '').lower()
                if ctype.startswith(BAD_CONTENT_TYPES):
                    raise _Failure(
                        f'content type {ctype.split(";")[0]} (an error page, '
                        'not a video)', False, status)
                expected = resp.content_length
                if self.opt.max_bytes and expected and \
                        expected > self.opt.max_bytes:
                    raise _Failure('larger than --max-mb', False, status)
                size = 0
                with open(tmp, 'wb') as f:
                    async for chunk in resp.content.iter_chunked(1 << 16):
                        f.write(chunk)
                        size += len(chunk)
                        if self.opt.max_bytes and size > self.opt.max_bytes:
                            raise _Failure('larger than --max-mb', False,
                                           status)
                if expected is not None and size != expected:
                    raise _Failure('truncated body', True, status)
                return size
        except _Failure:
            raise
        except asyncio.TimeoutError:
            raise _Failure('timeout', True) from None
        except aiohttp.ClientPayloadError:
            raise _Failure('truncated body', True) from None
        except aiohttp.TooManyRedirects:
            raise _Failure('too many redirects', False) from None
        except (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError) as exc:
            raise _Failure(f'invalid URL ({exc})', False) from None
        except aiohttp.ClientResponseError as exc:
            raise _Failure(f'bad response ({exc.message})', True,
                           exc.status) from None
        except (aiohttp.ClientError, OSError) as exc:
            raise _Failure(f'connection error ({type(exc).__name__})',
                           True) from None
        finally:
            host.release()

    def _host(self, url: str) -> HostLimiter:
        host = urlsplit(url).netloc
        limiter = self._hosts.get(host)
        if limiter is None:
            limiter = self._hosts[host] = HostLimiter(self.opt.per_host,
                                                      self.opt.rate_limit)
        return limiter

    def _reencode(self, tmp: str) -> int:
        """Re-encode ``tmp`` in place (tools/data/resize_videos.py's step);
        returns the new size."""
        from simvtp.utils.video_encoding import reencode
        out = tmp[:-4] + '.reencoded.mp4'
        try:
            reencode(tmp, out, **self.opt.reencode)
        except Exception as exc:  # noqa: BLE001
            _remove(out)
            text = ' '.join(str(exc).split())[:120]
            raise _Failure(f're-encoding failed ({type(exc).__name__}: '
                           f'{text})', False, 200) from None
        os.replace(out, tmp)
        return os.path.getsize(tmp)

    def _fail(self, task: Task, failure: _Failure, attempts: int) -> None:
        self.summary.failed[failure.reason.split(' (', 1)[0]] += 1
        self.ledger.append(dict(row=task.row, url=task.url, path=task.path,
                                reason=failure.reason,
                                status=failure.status, attempts=attempts,
                                time=round(time.time(), 3)))


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
