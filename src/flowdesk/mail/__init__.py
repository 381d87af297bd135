"""E-mail in and out: parsing, mailboxes (IMAP, LMTP), threading, dedup and the loop guard."""
