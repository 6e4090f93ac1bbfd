from conftest import make_config, write_article

from app import create_app


def test_build_index_reports_what_it_did(tmp_path):
    articles = tmp_path / "articles"
    articles.mkdir()
    write_article(articles, "one")
    app = create_app(make_config(tmp_path, ARTICLES_DIR=str(articles), BUILD_INDEX_ON_START=False))
    runner = app.test_cli_runner()
    result = runner.invoke(args=["build-index"])
    assert result.exit_code == 0 and "index built: 1 added" in result.output
    result = runner.invoke(args=["build-index"])
    assert "index unchanged: 0 added, 0 updated, 0 removed, 1 unchanged" in result.output
    assert "1 added" in runner.invoke(args=["build-index", "--full"]).output


def test_validate_passes_on_the_shipped_articles(runner):
    result = runner.invoke(args=["validate"])
    assert result.exit_code == 0 and "0 problems" in result.output


def test_validate_lists_problems_with_file_and_line_and_fails(tmp_path):
    articles = tmp_path / "articles"
    articles.mkdir()
    write_article(articles, "fine")
    write_article(articles, "broken", body="Intro.\n\nServer {imap.nope}\n")
    app = create_app(make_config(tmp_path, ARTICLES_DIR=str(articles)))
    result = app.test_cli_runner().invoke(args=["validate"])
    assert result.exit_code == 1
    assert "broken.md:9: unknown placeholder {imap.nope}" in result.output
    assert "1 articles ok, 1 problems" in result.output


def test_the_site_serves_the_good_articles_when_one_is_broken(tmp_path):
    articles = tmp_path / "articles"
    articles.mkdir()
    write_article(articles, "fine")
    (articles / "broken.md").write_text("---\ntitle: [\n---\n")
    client = create_app(make_config(tmp_path, ARTICLES_DIR=str(articles))).test_client()
    assert client.get("/articles/fine").status_code == 200
    assert client.get("/articles/broken").status_code == 404


def test_train_reports_thresholds(tmp_path):
    app = create_app(make_config(tmp_path))
    result = app.test_cli_runner().invoke(args=["train"])
    assert result.exit_code == 0
    assert "trained on 28 examples of 4 intents (knowledge version 0); fallback below" in result.output
    assert "stored in the database for the other nodes" in result.output


def test_evaluate_on_the_shipped_data_passes_its_thresholds(runner):
    """CI runs the evaluation through this test: it fails when the bot gets worse."""
    result = runner.invoke(args=["evaluate"])
    assert "Cross-validation (5 folds" in result.output
    assert "pop3_enable" in result.output and "most confused" in result.output
    assert "heldout.jsonl)" in result.output and "heldout2.jsonl)" in result.output  # each file scored
    assert "POP3 policy: 0 unsafe answers" in result.output
    assert result.exit_code == 0, result.output


def test_evaluate_fails_below_its_thresholds(tmp_path):
    app = create_app(make_config(tmp_path, EVAL_MIN_CV_ACCURACY=1.01))
    questions = tmp_path / "q.jsonl"
    questions.write_text('{"id": "1", "question": "hello", "intents": ["greeting"]}\n'
                         '{"id": "2", "question": "forgot my password", "intents": ["out_of_scope"]}\n')
    result = app.test_cli_runner().invoke(args=["evaluate", "--folds", "3", "--questions", str(questions)])
    assert result.exit_code == 1 and "FAILED: cross-validation accuracy" in result.output
