# configs/grounding/tan2d_synthetic.py with 2D-TAN's own query encoder: an
# LSTM over word embeddings learned from scratch (2D-TAN: frozen GloVe
# 6B-300d and 3 layers of 512; GloVe is not downloadable here, give a local
# GloVe-style file as word_vectors to start from it) instead of the
# pre-trained simvtp text encoder.
#   python tools/train.py configs/grounding/tan2d_synthetic_lstm.py
_base_ = ['./tan2d_synthetic.py']

model = dict(
    query_encoder=dict(
        _delete_=True, type='LSTMQueryEncoder',
        tokenizer='data/synthetic/tokenizer', embed_dims=300,
        hidden_dims=256, num_layers=3, bidirectional=False,
        word_vectors=None, freeze_word_vectors=False))
