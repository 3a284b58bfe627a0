"""Video-QA readers, answer vocabulary, metrics and the synthetic QA data."""
import json

import numpy as np
import pytest
from mmaction.evaluation.metrics import VQAMCACC

from simvtp.datasets.synthetic.qa import (ATTRIBUTES, make_choices,
                                          make_questions)
from simvtp.datasets.synthetic.scene import sample_scene
from simvtp.datasets.vqa import (AnswerVocabulary, MultipleChoiceQADataset,
                                 OpenEndedQADataset, QAAnnotationError,
                                 read_annotations)
from simvtp.evaluation import (MultipleChoiceScoreAccuracy,
                               OpenEndedQAAccuracy)
from tests.test_datasets.test_synthetic_grounding import triples

TGIF_MC_HEADER = 'gif_name\tquestion\ta1\ta2\ta3\ta4\ta5\tanswer\tvid_id\tkey\n'


def _write(path, text):
    path.write_text(text)
    return str(path)


# ------------------------------------------------------------------ readers
def test_each_layout_parses(tmp_path):
    qa = _write(tmp_path / 'qa.json', json.dumps([
        dict(video='video1.mp4', question='what is it', answer='dog',
             question_id=7, category_id=0),
        dict(video='video2.mp4', question='who runs', answer=['a', 'a', 'b'],
             question_id=8)]))
    recs = read_annotations(qa, 'mmaction')
    assert recs[0] == dict(video='video1.mp4', question='what is it',
                           answers=['dog'], question_id=7,
                           question_type='what')
    assert recs[1]['answers'] == ['a', 'a', 'b']
    assert recs[1]['question_type'] is None
    frame = _write(tmp_path / 'frameqa.tsv',
                   'gif_name\tquestion\tanswer\ttype\tvid_id\tkey\n'
                   'tumblr_x\twhat is the color of the cat\twhite\t2\t'
                   'gif1\t100\n')
    (rec, ) = read_annotations(frame, 'tgif_frameqa')
    assert rec['video'] == 'tumblr_x.mp4' and rec['answers'] == ['white']
    assert rec['question_type'] == 'color' and rec['question_id'] == '100'
    mc = _write(tmp_path / 'mc.json', json.dumps([
        dict(video='video9.mp4', caption=list('abcde'), answer=3)]))
    (rec, ) = read_annotations(mc, 'mmaction_mc')
    assert rec['options'] == list('abcde') and rec['answer'] == 3
    tgif = _write(tmp_path / 'action.tsv', TGIF_MC_HEADER +
                  'g1\twhat does the man do 3 times\tjump\tnod\trun\tclap'
                  '\twave\t1\tv1\t5\n')
    (rec, ) = read_annotations(tgif, 'tgif_mc')
    assert rec['options'][1] == 'nod' and rec['answer'] == 1
    assert rec['video'] == 'g1.mp4'
    jsonl = _write(tmp_path / 'lsmdc.jsonl', json.dumps(dict(
        qid='q1', clip_name='1001_clip', options=['x', 'y'], answer=0))
        + '\n')
    (rec, ) = read_annotations(jsonl, 'jsonl_mc')
    assert rec['video'] == '1001_clip.mp4' and rec['question_id'] == 'q1'


@pytest.mark.parametrize('layout,name,text,match', [
    ('mmaction', 'a.json', json.dumps([dict(video='v', question='q',
                                            answer='x'),
                                       dict(video='v', question='q')]),
     r'a.json, row 1: missing "answer"'),
    ('mmaction', 'b.json', json.dumps([dict(video='v', question='q',
                                            answer=3)]),
     r'b.json, row 0: "answer" must be'),
    ('tgif_frameqa', 'c.tsv', 'gif_name\tquestion\tanswer\ttype\n'
     'g\tq\ta\t0\ng\tq\ta\t7\n', r'c.tsv, row 3: "type" must be 0-3'),
    ('mmaction_mc', 'd.json', json.dumps([dict(video='v', caption=['a', 'b'],
                                               answer=2)]),
     r'd.json, row 0: "answer" 2 is not an index'),
    ('tgif_mc', 'e.tsv', TGIF_MC_HEADER + 'g\tq\ta\tb\tc\td\te\tx\tv\tk\n',
     r'e.tsv, row 2: "answer" must be an integer'),
    ('jsonl_mc', 'f.jsonl', '{"video": "v", "options": ["a", "b"], '
     '"answer": 0}\n{bad\n',
     r'f.jsonl, row 2: not valid JSON'),
])
def test_malformed_row_names_file_and_row(tmp_path, layout, name, text,
                                          match):
    path = _write(tmp_path / name, text)
    with pytest.raises(QAAnnotationError, match=match):
        read_annotations(path, layout)


# --------------------------------------------------------------- vocabulary
def test_vocabulary_from_train_only_and_oov_counts_wrong(tmp_path):
    train = _write(tmp_path / 'train.json', json.dumps([
        dict(video='v.mp4', question='q', answer=a)
        for a in ['Red', 'red', 'blue', 'blue', 'blue', 'two', 'cat']]))
    test = _write(tmp_path / 'test.json', json.dumps([
        dict(video='v.mp4', question='what colour', answer='red'),
        dict(video='v.mp4', question='what animal', answer='zebra'),
        dict(video='v.mp4', question='who', answer='cat')]))
    vocab = dict(ann_file=train, top_k=3)
    # test answers never enter: 'zebra' is only in the test file
    assert AnswerVocabulary.from_train_file(**vocab).answers == [
        'blue', 'red', 'cat']
    ds = OpenEndedQADataset(test, answer_vocab=vocab, test_mode=True,
                            question_type='first_word')
    assert len(ds) == 3  # the OOV question is kept
    assert [ds.get_data_info(i)['label'] for i in range(3)] == \
        [1, -1, 2]
    assert ds.get_data_info(1)['question_type'] == 'what'
    with pytest.raises(ValueError, match='count as wrong'):
        OpenEndedQADataset(test, answer_vocab=vocab, test_mode=True,
                           drop_unanswerable=True)
    # a perfect model on in-vocabulary questions still scores 2 / 3
    metric = OpenEndedQAAccuracy()
    samples = []
    for i in range(3):
        info = ds.get_data_info(i)
        label = info['label']
        samples.append(dict(gt_answers=info['gt_answers'],
                            gt_label=np.array([label]),
                            question_type=info['question_type'],
                            pred_answer=ds.vocab.answers[label]
                            if label >= 0 else 'blue'))
    metric.process(None, samples)
    result = metric.compute_metrics(metric.results)
    assert result['acc'] == pytest.approx(200 / 3)
    assert result['oov_rate'] == pytest.approx(100 / 3)


def test_per_type_accuracy_against_hand_count():
    rows = [('what', 'a', 'a'), ('what', 'b', 'a'), ('what', 'c', 'c'),
            ('who', 'x', 'y'), ('who', 'y', 'y'), (None, 'z', 'z')]
    metric = OpenEndedQAAccuracy()
    metric.process(None, [dict(gt_answers=[gt], gt_label=np.array([0]),
                               question_type=t, pred_answer=pred)
                          for t, pred, gt in rows])
    result = metric.compute_metrics(metric.results)
    # hand count: what 2/3, who 1/2, all 4/6
    assert result['acc_what'] == pytest.approx(200 / 3)
    assert result['acc_who'] == pytest.approx(50.0)
    assert result['acc'] == pytest.approx(400 / 6)
    assert 'acc_None' not in result


def test_multiple_choice_metrics_hand_cases():
    # mmaction2's VQAMCACC with the int pred_label the models store;
    # repeated labels catch a broadcasting (N, 1) vs (N,) comparison
    metric = VQAMCACC()
    metric.process(None, [dict(gt_label=np.array([g]), pred_label=p)
                          for g, p in [(1, 1), (1, 1), (2, 0), (3, 3)]])
    assert metric.compute_metrics(metric.results)['acc'] == \
        pytest.approx(75.0)
    metric = MultipleChoiceScoreAccuracy()
    metric.process(None, [
        dict(gt_label=np.array([0]), option_scores=dict(
            vtm=[0.9, 0.1], vtm_sim=[0.2, 0.8])),
        dict(gt_label=np.array([1]), option_scores=dict(
            vtm=[0.9, 0.1], vtm_sim=[0.2, 0.8]))])
    assert metric.compute_metrics(metric.results) == dict(vtm_acc=50.0,
                                                          vtm_sim_acc=50.0)


def test_mc_overlap_with_training_videos_warns(tmp_path):
    mc = _write(tmp_path / 'mc.json', json.dumps([
        dict(video='video7010.mp4', caption=['a', 'b'], answer=0),
        dict(video='video7011.mp4', caption=['a', 'b'], answer=1)]))
    train = _write(tmp_path / 'train_9k.json', json.dumps(
        {'video7010.mp4': 'a man sings', 'video1.mp4': 'a dog'}))
    ds = MultipleChoiceQADataset(mc, train_videos=train)
    assert ds.overlap == ['video7010']
    assert ds.get_data_info(1)['text'] == ['a', 'b']


# ------------------------------------------------------------ synthetic QA
def test_synthetic_answers_follow_from_the_scene():
    for i in range(200):
        rng = np.random.default_rng([3, i])
        scene = sample_scene(rng)
        objs = scene.objects
        for q in make_questions(objs, rng):
            words = q['question'].split()
            if q['question_type'] == 'count':
                assert q['answer'] == ['one', 'two'][len(objs) - 1]
            elif q['question_type'] == 'colour':
                if 'that' in words:  # named by its (unique) motion
                    motion = ' '.join(words[words.index('that') + 1:])
                    match = [o for o in objs if o.motion == motion]
                else:
                    match = [o for o in objs if o.shape == words[-1]]
                assert [o.colour for o in match] == [q['answer']]
            elif q['question_type'] == 'shape':
                match = [o for o in objs if o.colour == words[4]]
                assert [o.shape for o in match] == [q['answer']]
            else:
                match = [o for o in objs
                         if (o.colour, o.shape) == (words[3], words[4])]
                assert [o.motion for o in match] == [q['answer']]


def test_synthetic_distractors_differ_in_exactly_one_attribute():
    changed_kinds = set()
    for i in range(200):
        rng = np.random.default_rng([5, i])
        scene = sample_scene(rng)
        mc = make_choices(scene.objects, rng, 5)
        true = set((o.colour, o.shape, o.motion) for o in scene.objects)
        options = [triples(c) for c in mc['caption']]
        assert len(set(mc['caption'])) == 5
        assert set(options[mc['answer']]) == true
        ref = options[mc['answer']]
        for k, opt in enumerate(options):
            if k == mc['answer']:
                continue
            diffs = [(a, s) for x, y in zip(ref, opt)
                     for s, (a, b) in enumerate(zip(x, y)) if a != b]
            assert len(diffs) == 1, (mc['caption'][mc['answer']],
                                     mc['caption'][k])
            assert ATTRIBUTES[diffs[0][1]] == mc['changed'][k]
            assert set(opt) != true
            changed_kinds.add(mc['changed'][k])
    assert changed_kinds == set(ATTRIBUTES)
