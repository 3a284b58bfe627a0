"""The video-caption shard layout: written by ``tools/data/make_shards.py``,
read by :class:`~simvtp.datasets.WebVidShardDataset`.

A shard is a POSIX tar in the WebDataset convention (the files of one sample
share a key and are stored next to each other; ``webdataset`` reads and
writes them). Per video:

* ``{key}.mp4`` — the video file's bytes (the extension is the source's:
  ``mp4``, ``webm``, ...);
* ``{key}.txt`` — its first caption (for generic WebDataset tools);
* ``{key}.json`` — ``{"video": path as written in the annotation,
  "captions": [str, ...], "index": the video's position in the
  annotation, "text_ids": the captions' positions}`` plus, for re-encoded
  videos, ``width``/``height``/``fps``.

``key`` is the zero-padded index (no dots: WebDataset splits names at the
first dot). ``manifest.json`` beside the shards lists them::

    {"format": "simvtp-shards/1", "annotation": ..., "options": {...},
     "num_shards": S, "num_videos": V, "num_captions": C, "skipped": K,
     "shards": [{"name": "shard-000000.tar", "videos": n, "captions": c,
                 "bytes": b, "sha256": hex, "skipped": k}, ...]}

Shard names are relative to the manifest's folder.
"""
import hashlib
import json
import os
import os.path as osp
from typing import Callable, Dict, Iterable, Iterator, List

FORMAT = 'simvtp-shards/1'
VIDEO_EXTS = ('mp4', 'webm', 'mkv', 'avi', 'mov', 'm4v')
MANIFEST = 'manifest.json'


class ShardFormatError(ValueError):
    """A malformed manifest or shard member; names the file and entry."""


def sample_key(index: int) -> str:
    return f'{int(index):09d}'


def shard_name(shard: int) -> str:
    return f'shard-{int(shard):06d}.tar'


def video_sample(index: int, video: str, captions: List[str], data: bytes,
                 ext: str = 'mp4', **meta) -> dict:
    """A sample dict for ``webdataset.TarWriter(encoder=False)``."""
    ext = ext.lower().lstrip('.')
    if ext not in VIDEO_EXTS:
        raise ShardFormatError(f'{video}: extension {ext!r} is not one of '
                               f'{VIDEO_EXTS}')
    info = dict(video=video, captions=list(captions), index=int(index),
                **meta)  # meta: text_ids, width/height/fps if re-encoded
    return {'__key__': sample_key(index), ext: data,
            'txt': (captions[0] if captions else '').encode('utf-8'),
            'json': json.dumps(info, ensure_ascii=False).encode('utf-8')}


def write_shard(path: str, samples: Iterable[dict]) -> dict:
    """Write ``samples`` (:func:`video_sample` dicts) to the tar ``path``
    via a temporary file and a rename; returns the shard's record (without
    ``name``): ``videos``, ``captions``, ``bytes``, ``sha256``."""
    from webdataset import TarWriter
    tmp = f'{path}.tmp.{os.getpid()}'
    videos = captions = 0
    try:
        with open(tmp, 'wb') as f:
            # mtime fixed: the same inputs give byte-identical shards
            with TarWriter(f, encoder=False, mtime=0, user='simvtp',
                           group='simvtp') as writer:
                for sample in samples:
                    writer.write(sample)
                    videos += 1
                    captions += len(json.loads(sample['json'])['captions'])
        digest = sha256_file(tmp)
        size = os.path.getsize(tmp)
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise
    return dict(videos=videos, captions=captions, bytes=size,
                sha256=digest)


def sha256_file(path: str, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(chunk), b''):
            digest.update(block)
    return digest.hexdigest()


def save_json(path: str, content) -> None:
    """Write JSON atomically (temporary file + rename)."""
    tmp = f'{path}.tmp.{os.getpid()}'
    with open(tmp, 'w', encoding='utf-8') as f:
        json.dump(content, f, ensure_ascii=False, indent=1)
    os.replace(tmp, path)


def load_manifest(path: str) -> dict:
    """Read and check a manifest (a file, or the folder holding
    ``manifest.json``); adds ``root`` (the folder shards are relative
    to)."""
    if osp.isdir(path):
        path = osp.join(path, MANIFEST)
    if not osp.exists(path):
        raise FileNotFoundError(
            f'{path}: no shard manifest (write one with '
            'tools/data/make_shards.py ANN DATA_ROOT OUT)')
    with open(path, encoding='utf-8') as f:
        try:
            manifest = json.load(f)
        except json.JSONDecodeError as e:
            raise ShardFormatError(f'{path}: invalid JSON: {e}') from None
    if not isinstance(manifest, dict) or manifest.get('format') != FORMAT:
        raise ShardFormatError(
            f'{path}: not a shard manifest of format {FORMAT!r}')
    shards = manifest.get('shards')
    if not isinstance(shards, list) or not shards:
        raise ShardFormatError(f'{path}: "shards" must be a non-empty list')
    for i, shard in enumerate(shards):
        if not isinstance(shard, dict) or not isinstance(
                shard.get('name'), str) or not all(
                    isinstance(shard.get(k), int)
                    for k in ('videos', 'captions')):
            raise ShardFormatError(
                f'{path}: shards[{i}]: expected "name", "videos" and '
                f'"captions", got {shard!r}')
    manifest['root'] = osp.dirname(osp.abspath(path))
    return manifest


def read_shard(path: str, on_error: Callable[[str, str], None]
               ) -> Iterator[Dict]:
    """Yield the videos of the shard ``path``: ``key``, ``data`` (bytes),
    ``ext``, ``video``, ``captions``, ``index``. A member or sample that
    cannot be read is reported as ``on_error(where, reason)`` and skipped;
    a corrupt tar ends the shard there (after the same report)."""
    from webdataset import tarfile_samples

    def handler(exc: BaseException) -> bool:
        text = str(exc.args[0] if exc.args else exc).split(' @ ')[0]
        text = ' '.join(text.split())  # webdataset appends ' @ <stream>'
        on_error(path, f'corrupt shard ({type(exc).__name__}: '
                 f'{text[:160]})')
        return True  # continue (with the next member, if any)

    for sample in tarfile_samples([dict(url=path)], handler=handler):
        where = f'{path}:{sample.get("__key__")}'
        try:
            yield _decode_sample(sample, where)
        except ShardFormatError as exc:
            on_error(where, str(exc))


def _decode_sample(sample: dict, where: str) -> Dict:
    ext = next((e for e in VIDEO_EXTS if e in sample), None)
    if ext is None:
        raise ShardFormatError('incomplete sample: no video member')
    if 'json' not in sample:
        raise ShardFormatError('incomplete sample: no json member')
    try:
        info = json.loads(sample['json'])
        captions = info['captions']
        video = info['video']
    except (ValueError, KeyError, TypeError) as exc:
        raise ShardFormatError(
            f'bad json member ({type(exc).__name__}: {exc})') from None
    if not isinstance(captions, list):
        raise ShardFormatError('bad json member: "captions" is not a list')
    return dict(key=sample['__key__'], data=sample[ext], ext=ext,
                video=video, captions=captions,
                text_ids=info.get('text_ids'), index=info.get('index', -1))


__all__ = ['FORMAT', 'MANIFEST', 'ShardFormatError', 'load_manifest',
           'read_shard', 'sample_key', 'save_json', 'sha256_file',
           'shard_name', 'video_sample', 'write_shard']
