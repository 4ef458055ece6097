#!/usr/bin/python3
"""bench/nplusone/orm/python_orms.py -- N+1 corpus workloads written the way
applications use Django's ORM and SQLAlchemy (Debian's python3-django and
python3-sqlalchemy, on psycopg2), against the corpus schema n1c of
bench/nplusone/workloads.py.

Usage: python_orms.py ORM CASE
  ORM   django | sqlalchemy | sqlalchemy_autocommit
  CASE  lazy          posts, then each post's author, lazily (N+1)
        eager         select_related / joinedload (no loop)
        prefetch      prefetch_related / selectinload of the comments (no loop)
        nested        posts -> comments -> each comment's author (2 loops)
        nested_eager  the same eagerly loaded (no loop)
        lazy_txn      lazy, inside an explicit transaction (N+1)
        write_loop    one INSERT per post after reading the posts (write loop)
        write_batch   bulk_create / one flush of all rows (no loop)
        save_loop     change each post and save() it in a transaction (write loop)
        iterator      posts streamed from a server-side cursor (iterator(),
                      yield_per), then each post's author, lazily (N+1)
Connection settings come from the libpq environment (PGHOST, PGPORT, PGUSER,
PGPASSWORD, PGDATABASE); the schema is put on the search_path.
"""
import sys

from orm_env import django_setup, sqlalchemy_models, sqlalchemy_url, SEARCH_PATH

ORM, CASE = sys.argv[1], sys.argv[2]
OFFSET = {"lazy": 600, "eager": 600, "prefetch": 600, "nested": 700, "nested_eager": 700,
          "lazy_txn": 800, "write_loop": 900, "write_batch": 900, "save_loop": 1000,
          "iterator": 1100}[CASE]


def django():
    django_setup()
    from django.db import transaction
    from django_n1.models import Audit, Post

    def page(n):
        return Post.objects.order_by("id")[OFFSET:OFFSET + n]

    if CASE == "lazy":
        for p in page(20):
            p.author.name
    elif CASE == "eager":
        for p in page(20).select_related("author"):
            p.author.name
    elif CASE == "prefetch":
        for p in page(20).prefetch_related("comments"):
            list(p.comments.all())
    elif CASE == "nested":
        for p in page(6):
            for c in p.comments.order_by("id"):
                c.author.name
    elif CASE == "nested_eager":
        for p in page(6).prefetch_related("comments__author"):
            for c in p.comments.all():
                c.author.name
    elif CASE == "lazy_txn":
        with transaction.atomic():
            for p in page(15):
                p.author.name
    elif CASE == "write_loop":
        for p in page(20):
            Audit.objects.create(post_id=p.id, note="seen")
    elif CASE == "write_batch":
        Audit.objects.bulk_create([Audit(post_id=p.id, note="seen") for p in page(20)])
    elif CASE == "iterator":
        for p in page(30).iterator(chunk_size=10):
            p.author.name
    elif CASE == "save_loop":
        with transaction.atomic():
            for p in page(12):
                p.title += "!"
                p.save(update_fields=["title"])


def sqlalchemy(autocommit):
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session, joinedload, selectinload

    Author, Post, Comment, Audit = sqlalchemy_models()
    url = sqlalchemy_url()
    kw = {"isolation_level": "AUTOCOMMIT"} if autocommit else {}
    engine = create_engine(url, connect_args={"options": SEARCH_PATH}, future=True, **kw)

    def page(s, n, *opts):
        return s.query(Post).options(*opts).order_by(Post.id).offset(OFFSET).limit(n).all()

    # a Session runs everything in one transaction unless the engine is in
    # autocommit; lazy_txn makes the transaction explicit in both
    with Session(engine) as s:
        if CASE == "lazy":
            for p in page(s, 20):
                p.author.name
        elif CASE == "eager":
            for p in page(s, 20, joinedload(Post.author)):
                p.author.name
        elif CASE == "prefetch":
            for p in page(s, 20, selectinload(Post.comments)):
                list(p.comments)
        elif CASE == "nested":
            for p in page(s, 6):
                for c in p.comments:
                    c.author.name
        elif CASE == "nested_eager":
            for p in page(s, 6, selectinload(Post.comments).joinedload(Comment.author)):
                for c in p.comments:
                    c.author.name
        elif CASE == "lazy_txn":
            with s.begin():
                for p in page(s, 15):
                    p.author.name
        elif CASE == "write_loop":
            for p in page(s, 20):
                s.add(Audit(post_id=p.id, note="seen"))
                s.flush()
            s.commit()
        elif CASE == "write_batch":
            s.add_all([Audit(post_id=p.id, note="seen") for p in page(s, 20)])
            s.commit()
        elif CASE == "iterator":
            q = s.query(Post).order_by(Post.id).offset(OFFSET).limit(30)
            for p in q.execution_options(stream_results=True).yield_per(10):
                p.author.name
        elif CASE == "save_loop":
            for p in page(s, 12):
                p.title += "!"
                s.flush()
            s.commit()
    engine.dispose()


if ORM == "django":
    django()
elif ORM == "sqlalchemy":
    sqlalchemy(autocommit=False)
elif ORM == "sqlalchemy_autocommit":
    sqlalchemy(autocommit=True)
else:
    sys.exit(f"unknown ORM {ORM}")
