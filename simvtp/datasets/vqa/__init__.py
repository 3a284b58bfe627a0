"""Video question answering data: readers, answer vocabulary, datasets."""
from .answer_vocab import AnswerVocabulary, normalize_answer
from .multiple_choice import MultipleChoiceQADataset, option_texts
from .open_ended import OpenEndedQADataset, first_word_type
from .readers import QAAnnotationError, read_annotations

__all__ = ['AnswerVocabulary', 'normalize_answer', 'MultipleChoiceQADataset',
           'OpenEndedQADataset', 'QAAnnotationError', 'read_annotations',
           'option_texts', 'first_word_type']
