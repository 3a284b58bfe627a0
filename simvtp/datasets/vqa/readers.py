"""Readers of the public video-QA annotation layouts into plain records.

Open-ended records: ``dict(video, question, answers: [str], question_id,
question_type)``; multiple-choice records: ``dict(video, question,
options: [str], answer: int, question_id)``. Every reader raises
:class:`QAAnnotationError` naming the file, the row (0-based index in a
JSON list, 1-based line in a JSONL / TSV file) and what was expected.

Layouts (``layout=`` of the datasets):

open-ended
    ``'mmaction'``: mmaction2's ``MSRVTTVQA`` JSON list ``[{video, question,
    answer: str | [str], question_id}]``; the VindLU / Unmasked Teacher
    ``msrvtt_qa_*.json`` and ``msvd_qa_*.json`` files are this layout (their
    ``question_id`` is optional). A ``question_type`` / ``answer_type``
    field, or MSRVTT-QA's ``category_id`` (0-4 = what, who, how, where,
    when) gives the type.
    ``'tgif_frameqa'``: TGIF-QA's ``{Train,Test}_frameqa_question.tsv``
    (tab-separated, header ``gif_name question answer type vid_id key``;
    type 0-3 = object, number, color, location).
multiple choice
    ``'mmaction_mc'``: mmaction2's ``MSRVTTVQAMC`` JSON list ``[{video,
    caption: [K], answer: int}]`` (also Unmasked Teacher's / VindLU's
    ``msrvtt_mc_test.json`` and LSMDC-MC converted to it); an optional
    ``question`` is prefixed to every option.
    ``'tgif_mc'``: TGIF-QA's ``{Train,Test}_{action,transition}_question.tsv``
    (header ``gif_name question a1 a2 a3 a4 a5 answer vid_id key``).
    ``'jsonl_mc'``: ClipBERT-style JSON lines ``{question?, options: [K],
    answer: int, clip_name | gif_name | video, qid | question_id?}``
    (ClipBERT's TGIF-QA and LSMDC-MC text files).
"""
import csv
import json
import os.path as osp
from typing import Any, Callable, Dict, Iterator, List, Tuple

from ..video_text import AnnotationError

MSRVTT_QA_CATEGORIES = ('what', 'who', 'how', 'where', 'when')
TGIF_FRAMEQA_TYPES = ('object', 'number', 'color', 'location')
OPEN_ENDED_LAYOUTS = ('mmaction', 'tgif_frameqa')
MULTIPLE_CHOICE_LAYOUTS = ('mmaction_mc', 'tgif_mc', 'jsonl_mc')


class QAAnnotationError(AnnotationError):
    """A malformed annotation file or row (the message names both)."""


def _fail(path: str, row, message: str):
    where = f'{path}' if row is None else f'{path}, row {row}'
    raise QAAnnotationError(f'{where}: {message}')


def _json_rows(path: str) -> Iterator[Tuple[int, Any]]:
    if not osp.isfile(path):
        raise FileNotFoundError(f'annotation file {path} not found')
    try:
        with open(path, encoding='utf-8') as f:
            data = json.load(f)
    except ValueError as e:
        _fail(path, None, f'not valid JSON ({e})')
    if not isinstance(data, list):
        _fail(path, None, f'expected a JSON list of records, got '
              f'{type(data).__name__}')
    yield from enumerate(data)


def _jsonl_rows(path: str) -> Iterator[Tuple[int, Any]]:
    if not osp.isfile(path):
        raise FileNotFoundError(f'annotation file {path} not found')
    with open(path, encoding='utf-8') as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                yield line_no, json.loads(line)
            except ValueError as e:
                _fail(path, line_no, f'not valid JSON ({e})')


def _tsv_rows(path: str, required: Tuple[str, ...]
              ) -> Iterator[Tuple[int, Dict[str, str]]]:
    if not osp.isfile(path):
        raise FileNotFoundError(f'annotation file {path} not found')
    with open(path, encoding='utf-8', newline='') as f:
        reader = csv.DictReader(f, delimiter='\t')
        missing = [k for k in required if k not in (reader.fieldnames or [])]
        if missing:
            _fail(path, 1, f'header lacks {missing} (expected tab-separated '
                  f'columns {list(required)})')
        for line_no, row in enumerate(reader, 2):
            if None in row or any(row.get(k) is None for k in required):
                _fail(path, line_no, f'expected {len(reader.fieldnames)} '
                      'tab-separated fields')
            yield line_no, row


def _field(path, row, record: dict, key: str, kinds, what: str):
    if not isinstance(record, dict):
        _fail(path, row, f'expected a JSON object, got '
              f'{type(record).__name__}')
    if key not in record:
        _fail(path, row, f'missing "{key}" ({what})')
    value = record[key]
    if not isinstance(value, kinds) or isinstance(value, bool):
        _fail(path, row, f'"{key}" must be {what}, got {value!r}')
    return value


def _int(path, row, value, key: str) -> int:
    try:
        return int(str(value).strip())
    except ValueError:
        _fail(path, row, f'"{key}" must be an integer, got {value!r}')


# ----------------------------------------------------------------- open-ended
def _question_type(path, row, record: dict):
    for key in ('question_type', 'answer_type'):
        if record.get(key) is not None:
            return str(record[key])
    if record.get('category_id') is not None:
        cat = _int(path, row, record['category_id'], 'category_id')
        if not 0 <= cat < len(MSRVTT_QA_CATEGORIES):
            _fail(path, row, f'"category_id" must be 0-4 (what, who, how, '
                  f'where, when), got {cat}')
        return MSRVTT_QA_CATEGORIES[cat]
    return None


def read_mmaction_qa(path: str) -> List[dict]:
    records = []
    for row, rec in _json_rows(path):
        video = _field(path, row, rec, 'video', str, 'a video file name')
        question = _field(path, row, rec, 'question', str, 'a string')
        answer = _field(path, row, rec, 'answer', (str, list),
                        'a string or a list of strings')
        answers = [answer] if isinstance(answer, str) else answer
        if not answers or not all(isinstance(a, str) for a in answers):
            _fail(path, row, f'"answer" must be a string or a non-empty list'
                  f' of strings, got {answer!r}')
        records.append(dict(
            video=video, question=question.strip(),
            answers=[a.strip() for a in answers],
            question_id=rec.get('question_id', row),
            question_type=_question_type(path, row, rec)))
    return records


def read_tgif_frameqa(path: str, video_ext: str = '.mp4') -> List[dict]:
    records = []
    required = ('gif_name', 'question', 'answer', 'type')
    for line_no, rec in _tsv_rows(path, required):
        kind = _int(path, line_no, rec['type'], 'type')
        if not 0 <= kind < len(TGIF_FRAMEQA_TYPES):
            _fail(path, line_no, f'"type" must be 0-3 (object, number, '
                  f'color, location), got {kind}')
        records.append(dict(
            video=rec['gif_name'].strip() + video_ext,
            question=rec['question'].strip(),
            answers=[rec['answer'].strip()],
            question_id=rec.get('key') or line_no,
            question_type=TGIF_FRAMEQA_TYPES[kind]))
    return records


# ------------------------------------------------------------ multiple choice
def _check_options(path, row, options, answer: int) -> None:
    if len(options) < 2 or not all(isinstance(o, str) for o in options):
        _fail(path, row, f'expected a list of at least 2 option strings, got'
              f' {options!r}')
    if not 0 <= answer < len(options):
        _fail(path, row, f'"answer" {answer} is not an index into the '
              f'{len(options)} options')


def read_mmaction_mc(path: str) -> List[dict]:
    records = []
    for row, rec in _json_rows(path):
        video = _field(path, row, rec, 'video', str, 'a video file name')
        options = _field(path, row, rec, 'caption', list,
                         'a list of option strings')
        answer = _field(path, row, rec, 'answer', int, 'an option index')
        _check_options(path, row, options, answer)
        records.append(dict(video=video,
                            question=str(rec.get('question', '')).strip(),
                            options=[o.strip() for o in options],
                            answer=answer,
                            question_id=rec.get('question_id', row)))
    return records


def read_tgif_mc(path: str, video_ext: str = '.mp4') -> List[dict]:
    records = []
    columns = ('a1', 'a2', 'a3', 'a4', 'a5')
    required = ('gif_name', 'question') + columns + ('answer', )
    for line_no, rec in _tsv_rows(path, required):
        options = [rec[c].strip() for c in columns]
        answer = _int(path, line_no, rec['answer'], 'answer')
        _check_options(path, line_no, options, answer)
        records.append(dict(video=rec['gif_name'].strip() + video_ext,
                            question=rec['question'].strip(),
                            options=options, answer=answer,
                            question_id=rec.get('key') or line_no))
    return records


def read_jsonl_mc(path: str, video_ext: str = '.mp4') -> List[dict]:
    records = []
    for line_no, rec in _jsonl_rows(path):
        options = _field(path, line_no, rec, 'options', list,
                         'a list of option strings')
        answer = _field(path, line_no, rec, 'answer', int, 'an option index')
        _check_options(path, line_no, options, answer)
        key = next((k for k in ('video', 'clip_name', 'gif_name')
                    if k in rec), None)
        if key is None:
            _fail(path, line_no, 'missing the video ("video", "clip_name" '
                  'or "gif_name")')
        video = _field(path, line_no, rec, key, str, 'a video name')
        if key != 'video' and not osp.splitext(video)[1]:
            video += video_ext
        records.append(dict(
            video=video, question=str(rec.get('question', '')).strip(),
            options=[o.strip() for o in options], answer=answer,
            question_id=rec.get('qid', rec.get('question_id', line_no))))
    return records


READERS: Dict[str, Callable[..., List[dict]]] = dict(
    mmaction=read_mmaction_qa, tgif_frameqa=read_tgif_frameqa,
    mmaction_mc=read_mmaction_mc, tgif_mc=read_tgif_mc,
    jsonl_mc=read_jsonl_mc)


def read_annotations(path: str, layout: str, **kwargs) -> List[dict]:
    """Records of ``path`` in ``layout`` (see the module docstring)."""
    if layout not in READERS:
        raise ValueError(f'unknown QA annotation layout {layout!r}; choose '
                         f'one of {sorted(READERS)}')
    if layout in ('mmaction', 'mmaction_mc'):
        kwargs.pop('video_ext', None)  # full file names in the file
    return READERS[layout](path, **kwargs)
