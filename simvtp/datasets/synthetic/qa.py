"""Synthetic video question answering: the embedded VQA dataset.

Clips are drawn and rendered exactly like the pre-training clips of
:mod:`.scene` (one or two coloured shapes, one motion each), from their own
random stream (``QA_STREAM``), so they are new clips for a pre-trained
model. For every clip the generator writes

* open-ended questions whose answer the clip determines, one per type:
  ``count`` ("how many objects are there" -> "one" / "two"), ``colour``
  ("what colour is the object that moves left" / "what colour is the
  square"), ``shape`` ("what shape is the red object") and ``motion``
  ("what does the red square do" -> "moves left", ..., "stays still");
* one 5-option multiple-choice set: the clip's caption and four captions
  that each differ from it in exactly one attribute (the colour, shape or
  motion) of one object, in the same sentence template; the true option
  sits at a random position.

Layout under ``root`` (the public formats, so the same readers serve)::

    videos/{split}_{index:05d}.mp4    all splits
    annotations/qa_{split}.json       mmaction2 MSRVTTVQA layout:
                                      [{video, question, answer,
                                        question_id, question_type}]
    annotations/mc_{split}.json       mmaction2 MSRVTTVQAMC layout:
                                      [{video, caption: [5], answer: int,
                                        changed: [attr per option]}]
    annotations/answer_list.json      the training answers (sorted)
    annotations/scenes.json           {video: [[colour, shape, motion]]}
    tokenizer/                        the pre-training WordPiece vocabulary
                                      with the question words appended
                                      (existing ids unchanged)
    meta.json                         parameters; "complete": true last

Clip ``index`` of ``split`` comes from ``np.random.default_rng([seed,
QA_STREAM, SPLIT_IDS[split], index])``: the output does not depend on the
number of workers.
"""
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .generator import (SPLIT_IDS, SPLITS, _clear_root, _json_text,
                        _run_tasks, _write_text, is_complete, read_meta,
                        write_mp4)
from .scene import (COLOURS, MOTIONS, SHAPES, TEMPLATES, ObjectSpec,
                    SceneSpec, _with_article, render_clip, sample_scene)

QA_VERSION = 1
# keeps these clips' random streams apart from the pre-training clips'
QA_STREAM = 13
PARAM_KEYS: Tuple[str, ...] = ('version', 'seed', 'num_train', 'num_val',
                               'num_test', 'num_frames', 'fps', 'size',
                               'num_options', 'base_tokenizer_vocab')
OWNED = ('videos', 'annotations', 'tokenizer', 'meta.json')
QUESTION_TYPES = ('count', 'colour', 'shape', 'motion')
ATTRIBUTES = ('colour', 'shape', 'motion')
COUNT_WORDS = {1: 'one', 2: 'two'}
# a rotating circle looks like a still one: never ask or offer that
_NO_ROTATION = ('circle',)


def question_words() -> List[str]:
    """Words the question templates and answers use, sorted."""
    words = set('how many objects are there what colour is the object that '
                'shape does do'.split())
    words |= set(COUNT_WORDS.values())
    for forms in MOTIONS.values():
        words.update(forms[0].split())
    return sorted(words | set(COLOURS) | set(SHAPES))


def read_base_vocab(base_dir: str) -> str:
    """The text of the pre-training tokenizer's ``vocab.txt``."""
    path = osp.join(base_dir, 'vocab.txt')
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'{path} not found: the QA tokenizer extends the pre-training '
            'vocabulary; generate data/synthetic first (`python '
            'tools/data/make_synthetic.py`)')
    with open(path, encoding='utf-8') as f:
        return f.read()


def extend_vocab(base_dir: str, words: Sequence[str], out_dir: str,
                 max_size: Optional[int] = None) -> int:
    """Copy a WordPiece vocabulary and append the ``words`` it lacks.

    The existing tokens keep their ids, so a model pre-trained with
    ``base_dir`` reads the old words as before; new words get new rows of
    its (larger) embedding table.

    Args:
        base_dir: a BertTokenizerFast folder with ``vocab.txt``.
        words: whole words to make sure of.
        out_dir: where the extended tokenizer is written.
        max_size: the model's ``vocab_size``; a larger result raises.

    Returns:
        The size of the extended vocabulary.
    """
    from transformers import BertTokenizerFast
    tokens = [t for t in read_base_vocab(base_dir).split('\n') if t.strip()]
    known = set(tokens)
    tokens += [w for w in words if w not in known]
    if max_size is not None and len(tokens) > max_size:
        raise ValueError(f'the extended vocabulary has {len(tokens)} tokens,'
                         f' more than the model\'s vocab_size={max_size}')
    os.makedirs(out_dir, exist_ok=True)
    vocab_file = osp.join(out_dir, 'vocab.txt')
    _write_text(vocab_file, ''.join(t + '\n' for t in tokens))
    tokenizer = BertTokenizerFast(vocab_file=vocab_file, do_lower_case=True)
    tokenizer.save_pretrained(out_dir)
    return len(tokens)


# ----------------------------------------------------------------------------
# questions
# ----------------------------------------------------------------------------
def _present(motion: str) -> str:
    return MOTIONS[motion][0]


def make_questions(objects: Sequence[ObjectSpec],
                   rng: np.random.Generator) -> List[dict]:
    """One question per type about ``objects``; answers follow from them.

    Returns:
        ``[dict(question=..., answer=..., question_type=...)]`` in the order
        of :data:`QUESTION_TYPES`.
    """
    out = [dict(question='how many objects are there',
                answer=COUNT_WORDS[len(objects)], question_type='count')]
    target = objects[int(rng.integers(len(objects)))]
    motions = [o.motion for o in objects]
    if motions.count(target.motion) == 1 and rng.random() < 0.5:
        # the object is named by what it does: needs the motion
        question = f'what colour is the object that {_present(target.motion)}'
    else:
        question = f'what colour is the {target.shape}'
    out.append(dict(question=question, answer=target.colour,
                    question_type='colour'))
    target = objects[int(rng.integers(len(objects)))]
    out.append(dict(question=f'what shape is the {target.colour} object',
                    answer=target.shape, question_type='shape'))
    target = objects[int(rng.integers(len(objects)))]
    out.append(dict(question=f'what does the {target.colour} {target.shape}'
                    ' do', answer=target.motion, question_type='motion'))
    return out


# ----------------------------------------------------------------------------
# multiple choice
# ----------------------------------------------------------------------------
def compose_caption(triples: Sequence[Tuple[str, str, str]], article: str,
                    form: int) -> str:
    """Caption of ``(colour, shape, motion)`` triples in one template."""
    return ' and '.join(
        _with_article(article, f'{c} {s} {MOTIONS[m][form]}')
        for c, s, m in triples)


def _alternatives(triples, index: int, attribute: str) -> List[tuple]:
    """Object ``index`` with ``attribute`` changed, every way that keeps the
    clip's other objects as they are and makes a false caption."""
    colour, shape, motion = triples[index]
    pool = dict(colour=list(COLOURS), shape=list(SHAPES),
                motion=list(MOTIONS))[attribute]
    slot = ATTRIBUTES.index(attribute)
    true = set(triples)
    out = []
    for value in pool:
        if value == triples[index][slot]:
            continue
        new = [colour, shape, motion]
        new[slot] = value
        new = tuple(new)
        # a rotating circle is a still circle on screen
        if new[1] in _NO_ROTATION and new[2] == 'rotates':
            continue
        if new in true:
            continue
        out.append(new)
    return out


def make_choices(objects: Sequence[ObjectSpec], rng: np.random.Generator,
                 num_options: int = 5) -> dict:
    """A multiple-choice set: the true caption and ``num_options - 1``
    distractors, each the true caption with one attribute of one object
    changed (attributes taken in turn from a random start).

    Returns:
        ``dict(caption=[options], answer=int, changed=[attribute or None per
        option], triples=[per option, the (colour, shape, motion) list])``.
    """
    article, form = TEMPLATES[int(rng.integers(len(TEMPLATES)))]
    true = [(o.colour, o.shape, o.motion) for o in objects]
    if len(true) == 2 and rng.random() < 0.5:
        true.reverse()
    options = [(tuple(true), None)]
    seen = {tuple(true)}
    start = int(rng.integers(len(ATTRIBUTES)))
    k = 0
    while len(options) < num_options:
        attribute = ATTRIBUTES[(start + k) % len(ATTRIBUTES)]
        k += 1
        index = int(rng.integers(len(true)))
        candidates = _alternatives(true, index, attribute)
        rng.shuffle(candidates)
        for cand in candidates:
            triples = list(true)
            triples[index] = cand
            if tuple(triples) not in seen:
                seen.add(tuple(triples))
                options.append((tuple(triples), attribute))
                break
        if k > 50:
            raise RuntimeError('could not draw distinct distractors')
    order = rng.permutation(num_options)
    options = [options[i] for i in order]
    return dict(caption=[compose_caption(t, article, form)
                         for t, _ in options],
                answer=int(np.flatnonzero(order == 0)[0]),
                changed=[a for _, a in options],
                triples=[[list(x) for x in t] for t, _ in options])


# ----------------------------------------------------------------------------
# writing
# ----------------------------------------------------------------------------
def video_name(split: str, index: int) -> str:
    return f'{split}_{index:05d}.mp4'


def sample_clip(params: dict, split: str, index: int
                ) -> Tuple[SceneSpec, List[dict], dict]:
    """The scene, questions and choices of clip ``index`` of ``split``."""
    rng = np.random.default_rng(
        [params['seed'], QA_STREAM, SPLIT_IDS[split], index])
    scene = sample_scene(rng)
    return (scene, make_questions(scene.objects, rng),
            make_choices(scene.objects, rng, params['num_options']))


def _render(task) -> List[Tuple[str, int, list, list, dict]]:
    root, params, split, indices = task
    done = []
    for index in indices:
        scene, questions, choices = sample_clip(params, split, index)
        name = video_name(split, index)
        write_mp4(osp.join(root, 'videos', name),
                  render_clip(scene, params['num_frames'], params['size']),
                  params['fps'])
        triples = [[o.colour, o.shape, o.motion] for o in scene.objects]
        done.append((split, index, triples, questions, choices))
    return done


def generate_qa_dataset(root: str,
                        base_tokenizer: str = 'data/synthetic/tokenizer',
                        num_train: int = 1500,
                        num_val: int = 0,
                        num_test: int = 500,
                        num_frames: int = 32,
                        fps: float = 10,
                        size: int = 112,
                        seed: int = 0,
                        num_options: int = 5,
                        max_vocab_size: Optional[int] = None,
                        workers: Optional[int] = None,
                        progress: bool = True) -> dict:
    """Generate (or reuse) the synthetic VQA dataset under ``root``.

    Idempotent like :func:`~.generator.generate_synthetic_dataset`.

    Args:
        root: output folder.
        base_tokenizer: the pre-training tokenizer folder the QA tokenizer
            extends (its ``vocab.txt`` is part of the parameters).
        num_train, num_val, num_test: clips per split.
        num_frames, fps, size: as the pre-training clips (32, 10, 112).
        seed: the only source of randomness (with split and index).
        num_options: options per multiple-choice set (>= 2).
        max_vocab_size: the model's vocab_size (checked).
        workers: processes (None: ``os.cpu_count()``).
        progress: tqdm progress bar.

    Returns:
        The meta dict.
    """
    if num_options < 2 or min(num_train, num_val, num_test) < 0 or \
            num_frames < 2 or size < 16 or fps <= 0:
        raise ValueError('need num_options >= 2, non-negative counts, '
                         'num_frames >= 2, size >= 16 and fps > 0')
    base_vocab = read_base_vocab(base_tokenizer)
    counts = {'train': int(num_train), 'val': int(num_val),
              'test': int(num_test)}
    params = dict(version=QA_VERSION, seed=int(seed),
                  num_train=counts['train'], num_val=counts['val'],
                  num_test=counts['test'], num_frames=int(num_frames),
                  fps=fps, size=int(size), num_options=int(num_options),
                  base_tokenizer_vocab=base_vocab)
    root = osp.abspath(root)
    meta = read_meta(root)
    if is_complete(meta, params, PARAM_KEYS):
        return meta
    os.makedirs(root, exist_ok=True)
    _clear_root(root, OWNED, PARAM_KEYS)
    _write_text(osp.join(root, 'meta.json'),
                _json_text(dict(params, complete=False)))
    os.makedirs(osp.join(root, 'videos'))
    os.makedirs(osp.join(root, 'annotations'))

    workers = max(1, int(workers or os.cpu_count() or 1))
    chunk = 16
    tasks = [(root, params, split, list(range(start, min(
        start + chunk, counts[split]))))
        for split in SPLITS for start in range(0, counts[split], chunk)]
    results: Dict[str, Dict[int, tuple]] = {s: {} for s in SPLITS}
    from tqdm import tqdm
    with tqdm(total=sum(counts.values()), desc='synthetic QA clips',
              unit='clip', disable=not progress) as bar:
        for done in _run_tasks(tasks, workers, _render):
            for split, index, *rest in done:
                results[split][index] = rest
            bar.update(len(done))

    ann_dir = osp.join(root, 'annotations')
    scenes, num_questions = {}, {}
    for split in SPLITS:
        qa, mc = [], []
        for index in range(counts[split]):
            triples, questions, choices = results[split][index]
            name = video_name(split, index)
            scenes[name] = triples
            for q in questions:
                qa.append(dict(video=name, question=q['question'],
                               answer=q['answer'],
                               question_id=len(qa),
                               question_type=q['question_type']))
            mc.append(dict(video=name, caption=choices['caption'],
                           answer=choices['answer'],
                           changed=choices['changed']))
        num_questions[split] = len(qa)
        _write_text(osp.join(ann_dir, f'qa_{split}.json'), _json_text(qa))
        _write_text(osp.join(ann_dir, f'mc_{split}.json'), _json_text(mc))
        if split == 'train':
            answers = sorted({q['answer'] for q in qa})
            _write_text(osp.join(ann_dir, 'answer_list.json'),
                        _json_text(answers))
    _write_text(osp.join(ann_dir, 'scenes.json'), _json_text(scenes))
    vocab_size = extend_vocab(base_tokenizer, question_words(),
                              osp.join(root, 'tokenizer'), max_vocab_size)
    meta = dict(params, num_questions=num_questions, vocab_size=vocab_size,
                question_types=list(QUESTION_TYPES), complete=True)
    _write_text(osp.join(root, 'meta.json'), _json_text(meta))
    return meta
