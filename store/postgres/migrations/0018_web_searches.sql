-- Server-side web searches a request made (Anthropic's web_search tool), billed per search beside
-- the tokens; shown with each usage record.
ALTER TABLE usage_records ADD COLUMN web_searches BIGINT NOT NULL DEFAULT 0;
