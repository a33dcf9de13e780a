#include "auth/stream_tickets.h"

#include "store/store.h"
#include "util/test.h"

#include <string.h>

static const token_entry alice = {.name = "alice", .max_priority = STORE_PRIO_HIGH, .admin = false};
static const token_entry root = {
    .name = "root", .max_priority = STORE_PRIO_REALTIME, .admin = true};

static void test_issue_redeem_once(void)
{
    stream_tickets *b = NULL;
    hark_err err = {0};
    ASSERT_EQ(stream_tickets_new(&b, &err), 0);
    char t1[STREAM_TICKET_SIZE], t2[STREAM_TICKET_SIZE];
    ASSERT_EQ(stream_ticket_issue(b, &alice, 1000, t1, &err), 0);
    ASSERT_EQ(stream_ticket_issue(b, &root, 1000, t2, &err), 0);
    ASSERT_EQ(strlen(t1), STREAM_TICKET_SIZE - 1);
    ASSERT(strncmp(t1, STREAM_TICKET_PREFIX, 4) == 0);
    ASSERT(strcmp(t1, t2) != 0);
    token_entry who;
    ASSERT(stream_ticket_redeem(b, t2, 2000, &who));
    ASSERT_STREQ(who.name, "root");
    ASSERT(who.admin);
    ASSERT_EQ(who.max_priority, STORE_PRIO_REALTIME);
    ASSERT(stream_ticket_redeem(b, t1, 2000, &who));
    ASSERT_STREQ(who.name, "alice");
    ASSERT(!who.admin);
    ASSERT_EQ(who.max_priority, STORE_PRIO_HIGH);
    /* Single use. */
    ASSERT(!stream_ticket_redeem(b, t1, 2000, &who));
    ASSERT(!stream_ticket_redeem(b, t2, 2000, &who));
    stream_tickets_free(b);
}

static void test_expiry_and_forgeries(void)
{
    stream_tickets *b = NULL;
    hark_err err = {0};
    ASSERT_EQ(stream_tickets_new(&b, &err), 0);
    char t[STREAM_TICKET_SIZE];
    token_entry who;
    ASSERT_EQ(stream_ticket_issue(b, &alice, 0, t, &err), 0);
    ASSERT(!stream_ticket_redeem(b, t, STREAM_TICKET_TTL_S * 1000, &who)); /* expired */
    ASSERT_EQ(stream_ticket_issue(b, &alice, 0, t, &err), 0);
    ASSERT(stream_ticket_redeem(b, t, STREAM_TICKET_TTL_S * 1000 - 1, &who)); /* just in time */
    ASSERT_EQ(stream_ticket_issue(b, &alice, 0, t, &err), 0);
    char forged[STREAM_TICKET_SIZE];
    memcpy(forged, t, sizeof forged);
    forged[10] = forged[10] == 'a' ? 'b' : 'a';
    ASSERT(!stream_ticket_redeem(b, forged, 1, &who));
    ASSERT(!stream_ticket_redeem(b, "", 1, &who));
    ASSERT(!stream_ticket_redeem(b, NULL, 1, &who));
    ASSERT(!stream_ticket_redeem(NULL, t, 1, &who));
    ASSERT(stream_ticket_redeem(b, t, 1, &who)); /* the forgeries did not use it up */
    stream_tickets_free(b);
}

static void test_full_book_drops_the_oldest(void)
{
    stream_tickets *b = NULL;
    hark_err err = {0};
    ASSERT_EQ(stream_tickets_new(&b, &err), 0);
    char first[STREAM_TICKET_SIZE], t[STREAM_TICKET_SIZE];
    ASSERT_EQ(stream_ticket_issue(b, &alice, 0, first, &err), 0);
    for (int i = 1; i < STREAM_TICKETS_MAX; i++)
        ASSERT_EQ(stream_ticket_issue(b, &alice, i, t, &err), 0);
    char last[STREAM_TICKET_SIZE];
    ASSERT_EQ(stream_ticket_issue(b, &alice, STREAM_TICKETS_MAX, last, &err), 0);
    token_entry who;
    ASSERT(!stream_ticket_redeem(b, first, STREAM_TICKETS_MAX, &who));
    ASSERT(stream_ticket_redeem(b, last, STREAM_TICKETS_MAX, &who));
    ASSERT(stream_ticket_redeem(b, t, STREAM_TICKETS_MAX, &who));
    stream_tickets_free(b);
}

int main(void)
{
    RUN(test_issue_redeem_once);
    RUN(test_expiry_and_forgeries);
    RUN(test_full_book_drops_the_oldest);
    TEST_DONE();
}
