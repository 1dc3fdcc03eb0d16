mod fake_api;
mod fake_api_selftest;
mod tg_html;
