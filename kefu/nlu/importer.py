"""Rasa's file importer, reading the NLU training files once per run.

``rasa train`` reads the NLU data a first time to see what it has to train
(``get_nlu_data()``), then the training graph reads it again for the
pipeline, asking for the config's language (``get_nlu_data("zh")``). Rasa
caches the data per argument, so every file was parsed, checked against
Rasa's schema and merged a second time: a few seconds of every retrain
(reports/perf/training.md). Rasa's YAML reader does not use the language,
so the files read once serve both. config.yml names this importer under
``importers``; domain, stories and config are read as Rasa's own importer
reads them.
"""
from __future__ import annotations

from typing import List, Optional, Text, Union

from rasa.shared.importers.rasa import RasaFileImporter
from rasa.shared.nlu.training_data.training_data import TrainingData


class KefuImporter(RasaFileImporter):
    """``RasaFileImporter`` whose NLU data is read once, whatever the language asked."""

    def __init__(self, config_file: Optional[Text] = None, domain_path: Optional[Text] = None,
                 training_data_paths: Optional[Union[List[Text], Text]] = None) -> None:
        super().__init__(config_file, domain_path, training_data_paths)
        self._nlu_data: Optional[TrainingData] = None

    def get_nlu_data(self, language: Optional[Text] = "en") -> TrainingData:
        # the callers merge what they get into new objects: it is never changed in place
        if self._nlu_data is None:
            self._nlu_data = super().get_nlu_data(language)
        return self._nlu_data
